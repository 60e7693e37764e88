package compose

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
)

// Docker Compose's labels: every container, network and volume compose
// makes carries them, so `docker compose` and `shoal compose` see the
// same project.
const (
	LabelProject     = "com.docker.compose.project"
	LabelService     = "com.docker.compose.service"
	LabelNumber      = "com.docker.compose.container-number"
	LabelOneoff      = "com.docker.compose.oneoff"
	LabelWorkingDir  = "com.docker.compose.project.working_dir"
	LabelConfigFiles = "com.docker.compose.project.config_files"
	LabelEnvFile     = "com.docker.compose.project.environment_file"
	LabelConfigHash  = "com.docker.compose.config-hash"
	LabelVersion     = "com.docker.compose.version"
	LabelImage       = "com.docker.compose.image"
	LabelDependsOn   = "com.docker.compose.depends_on"
	LabelSlug        = "com.docker.compose.slug"
	LabelReplace     = "com.docker.compose.replace"
	LabelNetwork     = "com.docker.compose.network"
	LabelVolume      = "com.docker.compose.volume"
)

// Version is the value of the com.docker.compose.version label: the
// Docker Compose release whose behaviour shoal compose follows.
const Version = "2.40.0"

// separator joins the parts of container and image names, as Compose v2
// does ("myapp-web-1").
const separator = "-"

// ContainerName is the name of a service's container number n:
// container_name if the service sets one, else <project>-<service>-<n>.
func ContainerName(project string, s types.ServiceConfig, n int) string {
	if s.ContainerName != "" {
		return s.ContainerName
	}
	return project + separator + s.Name + separator + strconv.Itoa(n)
}

// ImageName is the image a service runs: its image, or for a service
// that only builds, <project>-<service>.
func ImageName(project string, s types.ServiceConfig) string {
	if s.Image != "" {
		return s.Image
	}
	return project + separator + s.Name
}

// ServiceHash is the service's config hash (the config-hash label), as
// Docker Compose computes it: the SHA-256 of the service's JSON with what
// does not change a container left out (build, pull policy, scale,
// replicas, depends_on, profiles). A container whose label differs from
// its service's hash is recreated by up.
func ServiceHash(s types.ServiceConfig) (string, error) {
	s.Build = nil
	s.PullPolicy = ""
	s.Scale = nil
	if s.Deploy != nil {
		d := *s.Deploy // a copy: s.Deploy is shared with the caller
		d.Replicas = nil
		s.Deploy = &d
	}
	s.DependsOn = nil
	s.Profiles = nil
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("hash service %s: %w", s.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// projectLabels are the labels every container of the project carries
// besides its service's and number's.
func projectLabels(p *types.Project) map[string]string {
	return map[string]string{
		LabelProject:     p.Name,
		LabelWorkingDir:  p.WorkingDir,
		LabelConfigFiles: strings.Join(p.ComposeFiles, ","),
		LabelVersion:     Version,
	}
}

// dependsOnLabel is the depends_on label: "svc:condition:restart,...",
// sorted.
func dependsOnLabel(s types.ServiceConfig) string {
	var deps []string
	for _, name := range sortedKeys(s.DependsOn) {
		d := s.DependsOn[name]
		deps = append(deps, fmt.Sprintf("%s:%s:%t", name, d.Condition, d.Restart))
	}
	return strings.Join(deps, ",")
}

// projectFilter is the filter of everything of project p.
func projectFilter(p string) map[string][]string {
	return map[string][]string{"label": {LabelProject + "=" + p}}
}
