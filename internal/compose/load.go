package compose

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// LoadOptions say which project to load, as compose's global flags do.
type LoadOptions struct {
	// Files are the compose files (-f), merged in order. None: $COMPOSE_FILE,
	// else compose.yaml, compose.yml, docker-compose.yml or
	// docker-compose.yaml (plus its override file) in WorkingDir or the
	// nearest parent that has one.
	Files []string
	// WorkingDir is the project directory (--project-directory); "" is the
	// first file's directory, or the current directory.
	WorkingDir string
	// Name is the project name (-p); "" is $COMPOSE_PROJECT_NAME, the
	// file's name: attribute, else the project directory's base name,
	// normalized.
	Name string
	// Profiles are the profiles to enable (--profile); none is
	// $COMPOSE_PROFILES.
	Profiles []string
	// Env is the environment the files are interpolated with, and where
	// the COMPOSE_* variables are read: KEY=VALUE entries (the CLI passes
	// os.Environ()).
	Env []string
	// EnvFiles are --env-file files; none is the project directory's
	// .env if there is one.
	EnvFiles []string
}

// Load reads, interpolates, merges and validates a project, as Docker
// Compose does, and labels its services for the containers compose makes.
// A bad file is an error naming the file and the offending key or
// service (errdefs.ErrInvalidArgument); a missing one
// errdefs.ErrNotFound.
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	opts, err := cli.NewProjectOptions(o.Files,
		cli.WithWorkingDirectory(o.WorkingDir),
		cli.WithEnv(o.Env),
		cli.WithConfigFileEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(o.EnvFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(o.Profiles...),
		cli.WithName(o.Name),
	)
	if err != nil {
		return nil, loadError(err)
	}
	if len(opts.ConfigPaths) == 0 {
		return nil, withClass(errors.New("no configuration file provided: not found"), errdefs.ErrNotFound)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, loadError(err)
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	labelServices(p, opts.EnvFiles, o.EnvFiles)
	return p, nil
}

// NormalizeProjectName is name as a project name: lower case, only
// letters, digits, '-' and '_', starting with a letter or digit.
func NormalizeProjectName(name string) string { return loader.NormalizeProjectName(name) }

// Validate checks what compose-go's loader leaves to the tool: the
// depends_on graph has no cycle and names only known services, and no
// two containers share a container_name.
func Validate(p *types.Project) error {
	if err := checkDependencies(p); err != nil {
		return err
	}
	if err := p.CheckContainerNameUnicity(); err != nil {
		return withClass(err, errdefs.ErrInvalidArgument)
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Image == "" && s.Build == nil {
			return invalidf("service %q has neither an image nor a build context specified", name)
		}
		if s.GetScale() > 1 && s.ContainerName != "" {
			return invalidf("service %q: container_name %q cannot be used with more than one replica", name, s.ContainerName)
		}
	}
	return nil
}

// checkDependencies finds a depends_on cycle or unknown service, naming
// the services on it: "dependency cycle detected: a -> b -> a".
func checkDependencies(p *types.Project) error {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := indexOf(path, name)
			return invalidf("dependency cycle detected: %s -> %s", strings.Join(path[i:], " -> "), name)
		}
		state[name] = visiting
		path = append(path, name)
		s := p.Services[name]
		for _, dep := range sortedKeys(s.DependsOn) {
			if _, ok := p.Services[dep]; !ok {
				if !s.DependsOn[dep].Required {
					continue
				}
				if _, off := p.DisabledServices[dep]; off {
					return invalidf("service %q is required by %q but is disabled (enable it with its profile)", dep, name)
				}
				return invalidf("service %q depends on undefined service %q", name, dep)
			}
			if err := visit(dep); err != nil {
				return err
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, name := range p.ServiceNames() {
		if err := visit(name); err != nil {
			return err
		}
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// labelServices gives each service, enabled or not (a disabled one may
// still be run), the project's labels: CustomLabels, which are not part
// of the config hash.
func labelServices(p *types.Project, envFiles, explicitEnvFiles []string) {
	for _, services := range []types.Services{p.Services, p.DisabledServices} {
		for name, s := range services {
			l := types.Labels{}
			for k, v := range projectLabels(p) {
				l[k] = v
			}
			l[LabelService] = name
			l[LabelOneoff] = "False"
			if len(explicitEnvFiles) > 0 {
				l[LabelEnvFile] = strings.Join(envFiles, ",")
			}
			s.CustomLabels = l
			services[name] = s
		}
	}
}

var (
	// compose-go's schema errors: "<path> additional properties 'x' not
	// allowed" and, for a key the schema forbids outright, "<path>.<key>
	// false schema".
	additionalProps = regexp.MustCompile(`^(.*?)\s*additional properties (.+) not allowed$`)
	falseSchema     = regexp.MustCompile(`^(.*)\.([^.]+) false schema$`)
)

// loadError makes compose-go's error name what is wrong in words: an
// unknown key and where it is.
func loadError(err error) error {
	msg := err.Error()
	prefix := ""
	if strings.HasPrefix(msg, "validating ") {
		if i := strings.Index(msg, ": "); i >= 0 {
			prefix, msg = msg[:i+2], msg[i+2:]
		}
	}
	rewritten := ""
	if m := falseSchema.FindStringSubmatch(msg); m != nil {
		rewritten = fmt.Sprintf("%s: unknown key %q (additional property %s is not allowed)", where(m[1]), m[2], m[2])
	} else if m := additionalProps.FindStringSubmatch(msg); m != nil {
		keys := strings.ReplaceAll(m[2], "'", "\"")
		word := "key"
		if strings.Contains(keys, ",") {
			word = "keys"
		}
		rewritten = fmt.Sprintf("%s: unknown %s %s (additional properties are not allowed)", where(m[1]), word, keys)
	}
	class := errdefs.ErrInvalidArgument
	if errors.Is(err, errdefs.ErrNotFound) || strings.Contains(msg, "no such file or directory") {
		class = errdefs.ErrNotFound
	}
	if rewritten != "" {
		return withClass(errors.New(prefix+rewritten), class)
	}
	return withClass(err, class)
}

// where names a schema path: "services.web" or "top level".
func where(path string) string {
	path = strings.TrimSpace(path)
	if path == "" {
		return "top level"
	}
	return path
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
