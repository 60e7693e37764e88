package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// defaultPath is the PATH a stage gets when its image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// state is a stage being built.
type state struct {
	name    string
	imageID string // "" until a FROM scratch stage commits
	// img is the configuration of imageID, when already read.
	img *dockerspec.DockerOCIImage
	// cfg is the configuration the next image gets.
	cfg        dockerspec.DockerOCIImageConfig
	maintainer string
	cmdSet     bool
	args       *buildArgs
}

func (s *state) shell() []string {
	if len(s.cfg.Shell) == 0 {
		return []string{"/bin/sh", "-c"}
	}
	return slices.Clone(s.cfg.Shell)
}

// env is what expansion sees: the config's environment and the build
// args it does not override.
func (s *state) env() []string {
	return append(slices.Clone(s.cfg.Env), s.args.filtered(s.cfg.Env)...)
}

func cloneConfig(c dockerspec.DockerOCIImageConfig) dockerspec.DockerOCIImageConfig {
	out := c
	out.Env = slices.Clone(c.Env)
	out.Cmd = slices.Clone(c.Cmd)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.Volumes = maps.Clone(c.Volumes)
	out.ExposedPorts = maps.Clone(c.ExposedPorts)
	out.Labels = maps.Clone(c.Labels)
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Shell = slices.Clone(c.Shell)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		out.Healthcheck = &h
	}
	return out
}

// hostPlatform is the platform images are built for.
func hostPlatform() ocispec.Platform {
	return ocispec.Platform{OS: "linux", Architecture: hostArch()}
}

func (r *run) from(ctx context.Context, s *state, st *Stage) error {
	env := r.args.metaEnv()
	name, err := r.expand(st.Base, env)
	if err != nil {
		return err
	}
	if name == "" {
		return invalidf("base name (%s) should not be blank", st.Base)
	}
	platform := r.o.Platform
	if st.Platform != "" {
		if platform, err = r.expand(st.Platform, env); err != nil {
			return fmt.Errorf("failed to process arguments for platform %s: %w", st.Platform, err)
		}
		if err := checkPlatform(platform); err != nil {
			return err
		}
	}
	var img *Image
	for _, prev := range r.done {
		if prev.name != "" && prev.name == strings.ToLower(name) {
			if prev.imageID == "" {
				name = "scratch"
				break
			}
			i, err := r.be.Image(ctx, prev.imageID)
			if err != nil {
				return err
			}
			img = &i
			break
		}
	}
	if img == nil && name != "scratch" {
		i, err := r.baseImage(ctx, name)
		if err != nil {
			return err
		}
		if platform != "" && i.Config.Architecture != "" && i.Config.Architecture != hostArch() {
			return notFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s/%s",
				name, platform, i.Config.OS, i.Config.Architecture)
		}
		img = &i
	}
	if img != nil {
		s.imageID = img.ID
		c := img.Config
		s.img = &c
		s.cfg = cloneConfig(img.Config.Config)
	}
	if !slices.ContainsFunc(s.cfg.Env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		s.cfg.Env = append(s.cfg.Env, "PATH="+defaultPath)
	}
	if len(s.cfg.OnBuild) > 0 {
		triggers := s.cfg.OnBuild
		s.cfg.OnBuild = nil
		plural := ""
		if len(triggers) > 1 {
			plural = "s"
		}
		r.rep.Stdout(fmt.Sprintf("# Executing %d build trigger%s\n", len(triggers), plural))
		for _, t := range triggers {
			in, err := ParseInstruction(t)
			if err != nil {
				return err
			}
			if err := r.dispatch(ctx, s, in); err != nil {
				return err
			}
		}
	}
	return nil
}

// baseImage finds a FROM image, pulling it when it is missing (or always,
// with the pull option).
func (r *run) baseImage(ctx context.Context, name string) (Image, error) {
	if !r.o.Pull {
		img, err := r.be.Image(ctx, name)
		if err == nil || !errdefs.IsNotFound(err) {
			return img, err
		}
	}
	return r.be.Pull(ctx, name, func(line string) { r.rep.Stdout(line + "\n") })
}

func (r *run) dispatch(ctx context.Context, s *state, in *Instruction) error {
	switch in.Cmd {
	case "run":
		return r.runStep(ctx, s, in)
	case "copy", "add":
		return r.copyStep(ctx, s, in)
	case "workdir":
		return r.workdirStep(ctx, s, in)
	}
	env := s.env()
	word := func(w string) (string, error) { return r.expand(w, env) }
	var text string
	switch in.Cmd {
	case "env":
		text = "ENV"
		for i := 0; i < len(in.Args); i += 3 {
			k, err := word(in.Args[i])
			if err != nil {
				return err
			}
			v, err := word(in.Args[i+1])
			if err != nil {
				return err
			}
			kv := k + "=" + v
			text += " " + kv
			i := slices.IndexFunc(s.cfg.Env, func(e string) bool { ek, _, _ := strings.Cut(e, "="); return ek == k })
			if i >= 0 {
				s.cfg.Env[i] = kv
			} else {
				s.cfg.Env = append(s.cfg.Env, kv)
			}
		}
	case "label":
		text = "LABEL"
		if s.cfg.Labels == nil {
			s.cfg.Labels = map[string]string{}
		}
		for i := 0; i < len(in.Args); i += 3 {
			k, v := in.Args[i], in.Args[i+1]
			if in.Flags[noExpandFlag] == "" {
				var err error
				if k, err = word(k); err != nil {
					return err
				}
				if v, err = word(v); err != nil {
					return err
				}
			}
			s.cfg.Labels[k] = v
			text += " " + k + "=" + v
		}
	case "maintainer":
		s.maintainer = in.Args[0]
		text = "MAINTAINER " + in.Args[0]
	case "arg":
		var parts []string
		for _, a := range in.Args {
			k, v, hasValue := strings.Cut(a, "=")
			k, err := word(k)
			if err != nil {
				return err
			}
			var vp *string
			if hasValue {
				ev, err := word(v)
				if err != nil {
					return err
				}
				vp = &ev
				parts = append(parts, k+"="+ev)
			} else {
				parts = append(parts, k)
			}
			s.args.declare(k, vp)
		}
		text = "ARG " + strings.Join(parts, " ")
	case "cmd":
		cmd := jsonOrShell(in.Args, in.JSON)
		if !in.JSON {
			cmd = append(s.shell(), cmd...)
		}
		s.cfg.Cmd = cmd
		s.cfg.ArgsEscaped = false
		text = fmt.Sprintf("CMD %q", cmd)
		defer func() { s.cmdSet = s.cmdSet || len(in.Args) != 0 }()
	case "entrypoint":
		ep := jsonOrShell(in.Args, in.JSON)
		if len(ep) == 0 {
			ep = nil
		} else if !in.JSON {
			ep = append(s.shell(), ep...)
		}
		s.cfg.Entrypoint = ep
		s.cfg.ArgsEscaped = false
		if !s.cmdSet {
			s.cfg.Cmd = nil
		}
		text = fmt.Sprintf("ENTRYPOINT %q", ep)
		if !s.cmdSet {
			text += "\x00cmd-reset"
		}
	case "healthcheck":
		if old := s.cfg.Healthcheck; old != nil && len(old.Test) > 0 && old.Test[0] != "NONE" {
			r.rep.Stdout(fmt.Sprintf("Note: overriding previous HEALTHCHECK: %v\n", old.Test))
		}
		h := *in.Health
		h.Test = slices.Clone(h.Test)
		s.cfg.Healthcheck = &h
		b, _ := json.Marshal(h)
		text = "HEALTHCHECK " + string(b)
	case "expose":
		var words []string
		for _, p := range in.Args {
			ws, err := r.lex.ProcessWords(p, shell.EnvsFromSlice(env))
			if err != nil {
				return invalidf("%v", err)
			}
			words = append(words, ws...)
		}
		ports, err := parsePorts(words)
		if err != nil {
			return err
		}
		if s.cfg.ExposedPorts == nil {
			s.cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			s.cfg.ExposedPorts[p] = struct{}{}
		}
		text = "EXPOSE " + strings.Join(words, " ")
	case "user":
		u, err := word(in.Args[0])
		if err != nil {
			return err
		}
		s.cfg.User = u
		text = "USER " + u
	case "volume":
		if s.cfg.Volumes == nil {
			s.cfg.Volumes = map[string]struct{}{}
		}
		var vols []string
		for _, v := range in.Args {
			ev, err := word(v)
			if err != nil {
				return err
			}
			if ev == "" {
				return invalidf("VOLUME specified can not be an empty string")
			}
			s.cfg.Volumes[ev] = struct{}{}
			vols = append(vols, ev)
		}
		text = fmt.Sprintf("VOLUME %v", vols)
	case "stopsignal":
		sig, err := word(in.Args[0])
		if err != nil {
			return err
		}
		if err := checkSignal(sig); err != nil {
			return err
		}
		s.cfg.StopSignal = sig
		text = "STOPSIGNAL " + sig
	case "shell":
		s.cfg.Shell = slices.Clone(in.Args)
		text = fmt.Sprintf("SHELL %v", s.cfg.Shell)
	case "onbuild":
		s.cfg.OnBuild = append(s.cfg.OnBuild, in.Trigger)
		text = "ONBUILD " + in.Trigger
	default:
		return invalidf("unsupported instruction %s", strings.ToUpper(in.Cmd))
	}
	return r.commitMeta(ctx, s, text)
}

// cached looks key up; a hit whose image still exists becomes the
// stage's image.
func (r *run) cached(ctx context.Context, s *state, key string) bool {
	if r.o.NoCache {
		return false
	}
	id, ok := r.b.cache.get(key)
	if !ok {
		return false
	}
	img, err := r.be.Image(ctx, id)
	if err != nil || img.ID != id {
		_ = r.b.cache.remove(key)
		return false
	}
	r.rep.Stdout(" ---> Using cache\n")
	s.imageID = id
	c := img.Config
	s.img = &c
	return true
}

func (r *run) remember(ctx context.Context, key, parent, id string) {
	if err := r.b.cache.put(key, id); err != nil {
		r.b.log.WarnContext(ctx, "record build cache", "err", err)
	}
	if err := r.b.cache.link(parent, id); err != nil {
		r.b.log.WarnContext(ctx, "record build parent", "err", err)
	}
}

// nopComment is the history entry of a step that ran no command, as
// Docker writes it ("/bin/sh -c #(nop)  ENV A=1").
func nopComment(s *state, text string, oneArg bool) string {
	if oneArg {
		return strings.Join(append(s.shell(), "#(nop) "+text), " ")
	}
	return strings.Join(append(s.shell(), "#(nop) ", text), " ")
}

// commitMeta commits a metadata step: the state's configuration on top
// of the current image, with no new layer.
func (r *run) commitMeta(ctx context.Context, s *state, text string) error {
	key := stepKey(s.imageID, "meta\x00"+text, s.maintainer)
	if r.cached(ctx, s, key) {
		return nil
	}
	display, _, _ := strings.Cut(text, "\x00")
	return r.commitConfig(ctx, s, key, nopComment(s, display, false))
}

// commitConfig commits the state's configuration as a config-only image.
func (r *run) commitConfig(ctx context.Context, s *state, key, createdBy string) error {
	img, err := r.child(ctx, s, createdBy)
	if err != nil {
		return err
	}
	id, err := r.be.CommitConfig(ctx, s.imageID, img)
	if err != nil {
		return err
	}
	r.remember(ctx, key, s.imageID, id)
	s.imageID = id
	s.img = &img
	return nil
}

// child is the configuration of an image with the state's configuration
// and no new layer on top of the current image.
func (r *run) child(ctx context.Context, s *state, createdBy string) (dockerspec.DockerOCIImage, error) {
	var img dockerspec.DockerOCIImage
	if s.imageID != "" {
		if s.img == nil {
			p, err := r.be.Image(ctx, s.imageID)
			if err != nil {
				return img, err
			}
			c := p.Config
			s.img = &c
		}
		img = *s.img
		img.RootFS.DiffIDs = slices.Clone(img.RootFS.DiffIDs)
		img.History = slices.Clone(img.History)
	} else {
		img.Platform = hostPlatform()
		img.RootFS.Type = "layers"
	}
	if img.RootFS.DiffIDs == nil {
		img.RootFS.DiffIDs = []digest.Digest{}
	}
	now := time.Now().UTC()
	img.Created = &now
	img.Author = s.maintainer
	img.Config = cloneConfig(s.cfg)
	img.History = append(img.History, ocispec.History{Created: &now, CreatedBy: createdBy, Author: s.maintainer, EmptyLayer: true})
	return img, nil
}

// baseForContainer is the image a step's container starts from: the
// current one, or the scratch image in a FROM scratch stage.
func (r *run) baseForContainer(ctx context.Context, s *state) (string, error) {
	if s.imageID != "" {
		return s.imageID, nil
	}
	if r.scratchID == "" {
		id, err := r.be.ScratchImage(ctx)
		if err != nil {
			return "", err
		}
		r.scratchID = id
	}
	return r.scratchID, nil
}

// helper creates a container for a step that runs nothing (COPY, ADD,
// WORKDIR), its command the step's history comment as Docker's are.
func (r *run) helper(ctx context.Context, s *state, comment, user string) (string, error) {
	base, err := r.baseForContainer(ctx, s)
	if err != nil {
		return "", err
	}
	cmd := append(s.shell(), "#(nop) "+comment)
	return r.be.CreateContainer(ctx, ContainerConfig{
		Image: base, Entrypoint: cmd[:1], Cmd: cmd[1:], Env: s.cfg.Env, User: user,
		WorkingDir: s.cfg.WorkingDir, NetworkMode: "none",
	})
}

func (r *run) removeHelper(ctx context.Context, id string) {
	if err := r.be.RemoveContainer(context.WithoutCancel(ctx), id); err != nil {
		r.b.log.WarnContext(ctx, "remove build container", "container_id", id, "err", err)
	}
}

// commitLayer commits a step's container.
func (r *run) commitLayer(ctx context.Context, s *state, cid, key, createdBy string) error {
	id, err := r.be.CommitContainer(ctx, cid, Commit{
		Config: cloneConfig(s.cfg), Author: s.maintainer, CreatedBy: createdBy, FromScratch: s.imageID == "",
	})
	if err != nil {
		return err
	}
	r.remember(ctx, key, s.imageID, id)
	s.imageID = id
	s.img = nil
	return nil
}

func (r *run) workdirStep(ctx context.Context, s *state, in *Instruction) error {
	wd, err := r.expand(in.Args[0], s.env())
	if err != nil {
		return err
	}
	if !path.IsAbs(wd) {
		wd = path.Join("/", s.cfg.WorkingDir, wd)
	} else {
		wd = path.Clean(wd)
	}
	s.cfg.WorkingDir = wd
	key := stepKey(s.imageID, "workdir\x00"+wd, s.maintainer)
	if r.cached(ctx, s, key) {
		return nil
	}
	comment := "WORKDIR " + wd
	cid, err := r.helper(ctx, s, comment, "")
	if err != nil {
		return err
	}
	defer r.removeHelper(ctx, cid)
	if info, err := r.be.StatPath(ctx, cid, strings.TrimSuffix(wd, "/")+"/"); err == nil && info.Mode.IsDir() {
		return r.commitConfig(ctx, s, key, nopComment(s, comment, true))
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeDirTar(pw, strings.TrimPrefix(wd, "/"))) }()
	err = r.be.CopyTo(ctx, cid, "/", pr, false)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("create working directory %s: %w", wd, err)
	}
	return r.commitLayer(ctx, s, cid, key, nopComment(s, comment, true))
}

// runStep is RUN: the command in a container that is then committed.
func (r *run) runStep(ctx context.Context, s *state, in *Instruction) error {
	cmd := jsonOrShell(in.Args, in.JSON)
	if !in.JSON {
		cmd = append(s.shell(), cmd...)
	}
	if len(cmd) == 0 {
		return invalidf("RUN requires at least one argument")
	}
	argEnv := s.args.filtered(s.cfg.Env)
	save := cmd
	if len(argEnv) > 0 {
		var keyed []string
		for _, kv := range argEnv {
			if k, _, _ := strings.Cut(kv, "="); s.args.keyed(k) {
				keyed = append(keyed, kv)
			}
		}
		save = append(append([]string{"|" + strconv.Itoa(len(keyed))}, keyed...), cmd...)
	}
	b, _ := json.Marshal(save)
	key := stepKey(s.imageID, "run\x00"+string(b), s.maintainer)
	if r.cached(ctx, s, key) {
		return nil
	}
	base, err := r.baseForContainer(ctx, s)
	if err != nil {
		return err
	}
	cid, err := r.be.CreateContainer(ctx, ContainerConfig{
		Image: base, Entrypoint: cmd[:1], Cmd: cmd[1:], Env: append(slices.Clone(s.cfg.Env), argEnv...),
		User: s.cfg.User, WorkingDir: s.cfg.WorkingDir, NetworkMode: r.o.NetworkMode,
	})
	if err != nil {
		return err
	}
	r.rep.Stdout(" ---> Running in " + shortID(cid) + "\n")
	code, err := r.be.RunContainer(ctx, cid, reporterWriter(r.rep.Stdout), reporterWriter(r.rep.Stderr))
	if err == nil && code != 0 {
		err = &Error{Message: fmt.Sprintf("The command '%s' returned a non-zero code: %d", strings.Join(cmd, " "), code), Code: code}
	}
	if err == nil {
		err = r.commitLayer(ctx, s, cid, key, strings.Join(save, " "))
	}
	// Unlike dockerd (which keeps a failed RUN's container unless
	// --force-rm), a failed step leaves nothing behind unless --rm=false:
	// its output and exit code are in the build's answer.
	if r.o.ForceRemove || r.o.Remove || ctx.Err() != nil {
		if rerr := r.be.RemoveContainer(context.WithoutCancel(ctx), cid); rerr != nil {
			r.rep.Stdout(fmt.Sprintf("Removing intermediate container %s: %v\n", shortID(cid), rerr))
		} else {
			r.rep.Stdout(" ---> Removed intermediate container " + shortID(cid) + "\n")
		}
	}
	return err
}

// reporterWriter sends each write to f.
type reporterWriter func(string)

func (w reporterWriter) Write(p []byte) (int, error) {
	w(string(p))
	return len(p), nil
}

// parsePorts reads EXPOSE's port specs (80, 80/udp, 8000-8010/tcp) into
// "port/proto" keys.
func parsePorts(specs []string) ([]string, error) {
	var out []string
	for _, spec := range specs {
		p := spec
		if i := strings.LastIndexByte(p, ':'); i >= 0 {
			p = p[i+1:]
		}
		port, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		switch strings.ToLower(proto) {
		case "tcp", "udp", "sctp":
			proto = strings.ToLower(proto)
		default:
			return nil, invalidf("invalid proto: %s", proto)
		}
		lo, hi, isRange := strings.Cut(port, "-")
		start, err := strconv.ParseUint(lo, 10, 16)
		if err != nil || lo == "" {
			return nil, invalidf("invalid containerPort: %s", port)
		}
		end := start
		if isRange {
			if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
				return nil, invalidf("invalid containerPort: %s", port)
			}
		}
		for n := start; n <= end; n++ {
			out = append(out, strconv.FormatUint(n, 10)+"/"+proto)
		}
	}
	return out, nil
}

// checkSignal accepts what Docker's signal.ParseSignal does: a number, or
// a name with or without "SIG".
func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return invalidf("Invalid signal: %s", s)
		}
		return nil
	}
	name := "SIG" + strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if unix.SignalNum(name) == 0 {
		return invalidf("Invalid signal: %s", s)
	}
	return nil
}
