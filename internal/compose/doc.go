// Package compose runs Compose projects (compose.yaml) on a
// Docker-compatible daemon, as Docker Compose v2 does, entirely on the
// client: it loads and validates the project with compose-go, then turns
// it into Engine API calls through the Engine interface, which the shoal
// CLI implements over internal/client.
//
// # Glossary
//
//   - project: the application one set of compose files describes; its
//     name prefixes everything compose makes.
//   - service: one entry of services:, run as one or more containers
//     (replicas) named <project>-<service>-<n>, n from 1.
//   - one-off container: a container of `compose run`, named
//     <project>-<service>-run-<slug> and labelled oneoff=True.
//   - config hash: the SHA-256 of a service's normalized config (see
//     ServiceHash), stored on its containers; a container whose hash
//     differs from its service's is recreated by up.
//
// # Labels
//
// Every resource carries Docker Compose's labels
// (com.docker.compose.project, .service, .container-number, .oneoff,
// .project.working_dir, .project.config_files, .config-hash, .version,
// .image, .depends_on; .network and .volume on networks and volumes), so
// `docker compose` and `shoal compose` see the same project and down can
// find everything by label.
//
// # Ordering and waiting
//
// Up walks the depends_on graph concurrently: a service's containers are
// created once its dependencies' are, and started once its depends_on
// conditions hold. Conditions (service_healthy,
// service_completed_successfully) are followed through the daemon's
// event stream: a waiter re-reads the container's state after each of
// its events, so nothing polls or sleeps. Down goes the other way:
// dependents are removed before what they depend on.
//
// # Caveats
//
// Secrets and configs are supported only when file-based (bind mounts);
// remote build contexts, swarm-only deploy fields, develop/watch and
// models are not. Building needs the daemon's POST /build.
package compose
