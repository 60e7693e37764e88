package build

import (
	"fmt"
	"sort"
	"strings"
)

// builtinArgs are the build args every Dockerfile may use without an ARG:
// the proxy settings. They are left out of the image history and of cache
// keys unless the Dockerfile declares them.
var builtinArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// buildArgs tracks the build args of one stage, as Docker's BuildArgs:
// the values given with --build-arg, the ARGs before the first FROM (meta
// args, which FROM lines and stage ARGs without a value see), the ARGs the
// stage declared and every ARG any stage referenced.
type buildArgs struct {
	given      map[string]*string
	meta       map[string]*string
	allowed    map[string]*string
	referenced map[string]bool
}

func newBuildArgs(given map[string]*string) *buildArgs {
	return &buildArgs{given: given, meta: map[string]*string{}, allowed: map[string]*string{}, referenced: map[string]bool{}}
}

// forStage is a copy for a new stage: the meta args and references stay,
// the declared args do not (a stage re-declares what it uses).
func (b *buildArgs) forStage() *buildArgs {
	n := newBuildArgs(b.given)
	for k, v := range b.meta {
		n.meta[k] = v
	}
	n.referenced = b.referenced // shared: unused-arg warnings cover all stages
	return n
}

// declare is an ARG in a stage.
func (b *buildArgs) declare(key string, value *string) {
	b.allowed[key] = value
	b.referenced[key] = true
}

// declareMeta is an ARG before the first FROM.
func (b *buildArgs) declareMeta(key string, value *string) {
	b.declare(key, value)
	b.meta[key] = value
}

// value is key's value for mapping (allowed or meta): --build-arg first,
// then the declared default, then a meta arg's value.
func (b *buildArgs) value(key string, mapping map[string]*string) (string, bool) {
	def, declared := mapping[key]
	if v, ok := b.given[key]; ok && v != nil {
		return *v, true
	}
	if def == nil {
		if v, ok := b.meta[key]; ok && v != nil {
			return *v, true
		}
		return "", false
	}
	return *def, declared
}

func (b *buildArgs) all(mapping map[string]*string) map[string]string {
	out := map[string]string{}
	for k := range mapping {
		if v, ok := b.value(k, mapping); ok {
			out[k] = v
		}
	}
	for k := range builtinArgs {
		if v, ok := b.value(k, mapping); ok {
			out[k] = v
		}
	}
	return out
}

// metaEnv is what FROM lines are expanded with.
func (b *buildArgs) metaEnv() []string {
	return kvList(b.all(b.meta))
}

// filtered is the declared (and builtin) args as KEY=value, less those
// env already sets: what RUN gets in its environment and what expansion
// sees besides env.
func (b *buildArgs) filtered(env []string) []string {
	set := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	var out []string
	for k, v := range b.all(b.allowed) {
		if !set[k] {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// keyed says whether key belongs in history and cache keys: any declared
// arg, and a builtin only when declared.
func (b *buildArgs) keyed(key string) bool {
	_, declared := b.allowed[key]
	return declared || !builtinArgs[key]
}

// unused lists the --build-arg names no stage referenced, sorted.
func (b *buildArgs) unused() []string {
	var out []string
	for k := range b.given {
		if !b.referenced[k] && !builtinArgs[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func kvList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// unusedWarning is Docker's line for build args nobody used.
func unusedWarning(names []string) string {
	return fmt.Sprintf("[Warning] One or more build-args %v were not consumed\n", names)
}
