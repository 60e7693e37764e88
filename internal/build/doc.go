// Package build runs Dockerfile builds the way Docker's classic (legacy)
// builder does: POST /build with a tar of the build context, one image per
// instruction, a layer cache keyed by parent image and instruction, and
// the "Step N/M : ..." message stream the docker CLI prints.
//
// The Dockerfile is parsed with BuildKit's parser
// (github.com/moby/buildkit/frontend/dockerfile/parser) and variables are
// expanded with its shell lexer, so quoting, escapes and ${VAR:-default}
// behave as in Docker. The instructions themselves are evaluated here.
//
// # Glossary
//
//   - context: the files sent with the build, extracted to a private
//     temporary directory and indexed (path → type, mode, owner, content
//     hash); .dockerignore removes entries from the index, never from
//     what COPY could reach by other means.
//   - stage: the instructions from one FROM to the next; a stage has a
//     name (FROM ... AS name) and an index, and COPY --from names either.
//   - step: one instruction of a stage; every step that changes the image
//     commits a new (untagged) image, the intermediate image, as Docker's
//     classic builder does.
//   - metadata step: ENV, LABEL, ARG, CMD, ENTRYPOINT, USER, EXPOSE, VOLUME,
//     STOPSIGNAL, SHELL, HEALTHCHECK, ONBUILD, MAINTAINER: it commits a
//     config-only image (an empty history entry, no layer) without a
//     container.
//   - layer step: RUN, COPY, ADD and WORKDIR (when the directory is
//     missing): it runs through a container that is committed and removed.
//   - cache key: sha256 of the parent image ID, the instruction in canonical
//     form after expansion (for RUN with the build args in its environment,
//     for COPY/ADD with a hash of the selected files' names, types, modes,
//     owners and contents, not their times) and the author; the cache maps
//     it to the image the step produced, in <root>/cache.db.
//
// # Invariants
//
//   - A cached image is used only if it still exists; a stale entry is a
//     miss and is overwritten.
//   - Helper containers (COPY, ADD, WORKDIR) are always removed; RUN
//     containers as Docker removes them: on success unless rm=false, and
//     on failure too (dockerd only with forcerm).
//   - Nothing is read or written outside the context directory while
//     extracting it: entries leaving it, or reached through a symlink, are
//     refused.
//
// # Caveats
//
//   - Layer steps need a snapshotter that keeps a separate layer of
//     changes (overlay); the native one cannot commit.
//   - ADD of a URL is refused: this daemon has no internet access. ADD of
//     a local archive extracts gzip, bzip2, zstd and plain tars; xz is
//     copied as a file.
//   - Heredocs and RUN --mount/--network/--security are BuildKit features
//     and are refused as the classic builder refuses them.
//   - WORKDIR commits a layer only when the directory is missing; Docker
//     commits an (often empty) layer every time.
//   - Containers of a FROM scratch stage start from an image of one empty
//     layer (EngineBackend.ScratchImage, untagged, the same ID on every
//     daemon): the overlay snapshotter keeps no separate changes for a
//     container without a parent. Its commits drop that layer again.
//   - The image service hands out OCI configurations, which drop Docker's
//     Healthcheck, OnBuild and Shell: EngineBackend reads and writes the
//     configuration blobs itself, and rewrites a commit whose configuration
//     has them.
//   - Metadata steps print no "Running in"/"Removed intermediate
//     container" lines: they run no container (Docker 28's classic
//     builder creates one for each).
package build
