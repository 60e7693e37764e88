package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// DefaultDockerfile is the Dockerfile's name when the build names none.
const DefaultDockerfile = "Dockerfile"

// Config configures a Builder.
type Config struct {
	// Root holds cache.db and tmp/, where build contexts are extracted
	// while they build (e.g. <data-root>/build).
	Root    string
	Backend Backend
	Log     *slog.Logger
}

// Builder runs builds. It is safe for concurrent use.
type Builder struct {
	cfg   Config
	log   *slog.Logger
	cache *cache
}

// New opens the builder's cache under cfg.Root and removes contexts a
// previous daemon left behind.
func New(cfg Config) (*Builder, error) {
	if cfg.Root == "" || !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("build root %q must be an absolute path: %w", cfg.Root, errdefs.ErrInvalidArgument)
	}
	if cfg.Backend == nil {
		return nil, fmt.Errorf("build: no backend: %w", errdefs.ErrInvalidArgument)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tmp := filepath.Join(cfg.Root, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("clean build contexts: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create build root: %w", err)
	}
	c, err := openCache(filepath.Join(cfg.Root, "cache.db"))
	if err != nil {
		return nil, err
	}
	return &Builder{cfg: cfg, log: log, cache: c}, nil
}

// Close closes the cache.
func (b *Builder) Close() error { return b.cache.close() }

// HasChildren says whether a build step made an image from the image id:
// such an untagged image is a build's intermediate, which docker images
// lists only with -a.
func (b *Builder) HasChildren(id string) bool { return b.cache.hasChildren(id) }

// Options are a build's parameters, those of POST /build.
type Options struct {
	// Dockerfile is the Dockerfile's path in the context
	// (DefaultDockerfile if empty).
	Dockerfile string
	// Tags name the result (each as `docker tag` takes it).
	Tags []string
	// BuildArgs are --build-arg values; a nil value is an arg named
	// without a value and not set in the client's environment.
	BuildArgs map[string]*string
	// Target is the last stage to build (by name); "" builds them all.
	Target string
	// Labels are added to the last stage, as LABEL instructions.
	Labels map[string]string
	// NoCache builds every step (results are still recorded).
	NoCache bool
	// Remove removes RUN containers after a successful step (Docker's
	// rm, default true), and after a failed one too (dockerd keeps those
	// unless forcerm; a failed build leaves no dangling containers here);
	// ForceRemove removes them even with Remove false.
	Remove, ForceRemove bool
	// NetworkMode is the network of RUN containers ("" or "default":
	// the default bridge).
	NetworkMode string
	// Platform is the platform to build for; only the host's is
	// supported.
	Platform string
	// Pull pulls FROM images even when they are present.
	Pull bool
}

// Reporter receives a build's output: the lines Docker's classic builder
// streams ("Step 1/4 : FROM busybox", " ---> 3f2a0c8b1e9d", a RUN's
// output) and the image ID of each stage.
type Reporter interface {
	Stdout(s string)
	Stderr(s string)
	ImageID(id string)
}

// Build builds the context read from contextTar and returns the image ID.
// Errors before any output (a bad Dockerfile, a bad option) come first,
// so a caller can answer them with an error status; the rest follow
// output already reported.
func (b *Builder) Build(ctx context.Context, contextTar io.Reader, o Options, rep Reporter) (string, error) {
	tags, err := checkTags(o.Tags)
	if err != nil {
		return "", err
	}
	if o.Platform != "" {
		if err := checkPlatform(o.Platform); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp(filepath.Join(b.cfg.Root, "tmp"), "ctx-")
	if err != nil {
		return "", fmt.Errorf("build: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			b.log.WarnContext(ctx, "remove build context", "path", dir, "err", err)
		}
	}()
	bc, err := extractContext(ctx, contextTar, dir)
	if err != nil {
		return "", err
	}
	if err := bc.applyIgnore(); err != nil {
		return "", err
	}
	name := o.Dockerfile
	if name == "" {
		name = DefaultDockerfile
	}
	data, ok, err := bc.readFile(name)
	if err == nil && !ok && name == DefaultDockerfile {
		data, ok, err = bc.readFile(strings.ToLower(name))
	}
	if err != nil {
		return "", err
	}
	if !ok {
		return "", invalidf("Cannot locate specified Dockerfile: %s", name)
	}
	df, err := Parse(data, name)
	if err != nil {
		return "", err
	}
	stages := df.Stages
	if o.Target != "" {
		i := stageIndex(stages, o.Target)
		if i < 0 {
			return "", invalidf("target stage %q could not be found", o.Target)
		}
		stages = stages[:i+1]
	}
	if len(o.Labels) > 0 {
		last := *stages[len(stages)-1]
		last.Instructions = append([]*Instruction(nil), last.Instructions...)
		keys := make([]string, 0, len(o.Labels))
		for k := range o.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			last.Instructions = append(last.Instructions, &Instruction{
				Cmd: "label", Original: "LABEL " + k + "=" + o.Labels[k], Args: []string{k, o.Labels[k], "="},
				Flags: map[string]string{noExpandFlag: "true"},
			})
		}
		stages = append(append([]*Stage(nil), stages[:len(stages)-1]...), &last)
	}
	for _, w := range df.Warnings {
		rep.Stderr("[WARNING]: " + w + "\n")
	}
	if len(df.Warnings) > 0 {
		rep.Stderr("[WARNING]: Empty continuation lines will become errors in a future release.\n")
	}
	r := &run{
		b: b, be: b.cfg.Backend, o: o, rep: rep, bc: bc,
		lex: shell.NewLex(df.Escape), args: newBuildArgs(o.BuildArgs),
	}
	r.total = len(df.MetaArgs) + len(stages)
	for _, st := range stages {
		r.total += len(st.Instructions)
	}
	id, err := r.build(ctx, df.MetaArgs, stages)
	if err != nil {
		return "", err
	}
	if unused := r.args.unused(); len(unused) > 0 {
		rep.Stdout(unusedWarning(unused))
	}
	if id == "" {
		return "", invalidf("No image was generated. Is your Dockerfile empty?")
	}
	rep.Stdout("Successfully built " + shortID(id) + "\n")
	for _, t := range tags {
		if err := b.cfg.Backend.Tag(ctx, id, t.String()); err != nil {
			return id, err
		}
		rep.Stdout("Successfully tagged " + t.Familiar() + "\n")
	}
	return id, nil
}

// noExpandFlag marks a LABEL added from the build's labels: not expanded.
const noExpandFlag = "\x00noexpand"

func stageIndex(stages []*Stage, name string) int {
	name = strings.ToLower(name)
	for i, st := range stages {
		if st.Name == name {
			return i
		}
	}
	return -1
}

// checkTags parses the tags as Docker does: duplicates dropped, digests
// refused.
func checkTags(tags []string) ([]ref.Ref, error) {
	var out []ref.Ref
	seen := map[string]bool{}
	for _, t := range tags {
		if t == "" {
			continue
		}
		r, err := ref.Parse(t)
		if err != nil {
			return nil, err
		}
		if r.Digest() != "" {
			return nil, invalidf("build tag cannot contain a digest")
		}
		if !seen[r.String()] {
			seen[r.String()] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// checkPlatform accepts only the host's platform.
func checkPlatform(p string) error {
	parts := strings.Split(strings.ToLower(p), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return invalidf("failed to parse platform %s: %q: unknown operating system or architecture", p, p)
	}
	arch := parts[1]
	switch arch {
	case "x86_64", "x86-64":
		arch = "amd64"
	case "aarch64":
		arch = "arm64"
	}
	if parts[0] != "linux" || arch != hostArch() {
		return invalidf("platform %s is not supported: this daemon builds only linux/%s images", p, hostArch())
	}
	return nil
}

// hostArch is the architecture images are built for: the host's.
func hostArch() string { return runtime.GOARCH }

// shortID is an image or container ID as the build prints it.
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// run is one build in progress.
type run struct {
	b     *Builder
	be    Backend
	o     Options
	rep   Reporter
	bc    *buildContext
	lex   *shell.Lex
	args  *buildArgs
	step  int
	total int
	// done are the stages built so far, in order.
	done []stageResult
	// scratchID is the empty image containers of a FROM scratch stage
	// start from.
	scratchID string
}

type stageResult struct {
	name    string
	imageID string
}

func (r *run) printStep(text string) {
	r.step++
	r.rep.Stdout(fmt.Sprintf("Step %d/%d : %s\n", r.step, r.total, text))
}

func (r *run) build(ctx context.Context, metaArgs []*Instruction, stages []*Stage) (string, error) {
	for _, in := range metaArgs {
		r.printStep(in.Original)
		env := kvList(r.args.all(r.args.allowed))
		for _, a := range in.Args {
			k, v, hasValue := strings.Cut(a, "=")
			k, err := r.expand(k, env)
			if err != nil {
				return "", err
			}
			var vp *string
			if hasValue {
				ev, err := r.expand(v, env)
				if err != nil {
					return "", err
				}
				vp = &ev
			}
			r.args.declareMeta(k, vp)
		}
	}
	var last string
	for _, st := range stages {
		if err := ctx.Err(); err != nil {
			r.rep.Stdout("Build cancelled\n")
			return "", errors.New("Build cancelled")
		}
		id, err := r.stage(ctx, st)
		if err != nil {
			return "", err
		}
		last = id
	}
	return last, nil
}

// expand is Docker's variable substitution of one word.
func (r *run) expand(word string, env []string) (string, error) {
	out, _, err := r.lex.ProcessWord(word, shell.EnvsFromSlice(env))
	if err != nil {
		return "", invalidf("%v", err)
	}
	return out, nil
}

func (r *run) stage(ctx context.Context, st *Stage) (string, error) {
	r.printStep(st.Original)
	s := &state{args: r.args.forStage(), name: st.Name}
	if err := r.from(ctx, s, st); err != nil {
		return "", err
	}
	r.rep.Stdout(" ---> " + shortID(s.imageID) + "\n")
	for _, in := range st.Instructions {
		if err := ctx.Err(); err != nil {
			r.rep.Stdout("Build cancelled\n")
			return "", errors.New("Build cancelled")
		}
		r.printStep(in.Original)
		if err := r.dispatch(ctx, s, in); err != nil {
			return "", err
		}
		r.rep.Stdout(" ---> " + shortID(s.imageID) + "\n")
	}
	if s.imageID != "" {
		r.rep.ImageID(s.imageID)
	}
	r.done = append(r.done, stageResult{name: st.Name, imageID: s.imageID})
	return s.imageID, nil
}
