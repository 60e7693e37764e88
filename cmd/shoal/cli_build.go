package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

// buildFlags are `shoal build`'s options, the docker CLI's for the
// classic builder.
type buildFlags struct {
	tags, buildArgs, labels []string
	file, target, network   string
	platform, iidfile       string
	noCache, quiet, pull    bool
	rm, forceRm             bool
}

// addBuildVerbs registers build at the top level and as `image build`.
func (cl *cli) addBuildVerbs(root *cobra.Command) {
	root.AddCommand(setupCmd(cl.newBuildCmd()))
	for _, c := range root.Commands() {
		if c.Name() == "image" {
			c.AddCommand(setupCmd(cl.newBuildCmd()))
		}
	}
}

func (cl *cli) newBuildCmd() *cobra.Command {
	var f buildFlags
	var u unsupported
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] PATH | URL | -",
		Short: "Build an image from a Dockerfile",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			return cl.runBuild(cmd, args[0], f)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&f.tags, "tag", "t", nil, `Name and optionally a tag in the "name:tag" format`)
	fs.StringVarP(&f.file, "file", "f", "", `Name of the Dockerfile (Default is "PATH/Dockerfile")`)
	fs.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables")
	fs.StringArrayVar(&f.labels, "label", nil, "Set metadata for an image")
	fs.StringVar(&f.target, "target", "", "Set the target build stage to build.")
	fs.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fs.BoolVar(&f.rm, "rm", true, "Remove intermediate containers after a successful build")
	fs.BoolVar(&f.forceRm, "force-rm", false, "Always remove intermediate containers")
	fs.StringVar(&f.network, "network", "default", "Set the networking mode for the RUN instructions during build")
	fs.StringVar(&f.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	fs.BoolVar(&f.pull, "pull", false, "Always attempt to pull a newer version of the image")
	fs.StringVar(&f.iidfile, "iidfile", "", "Write the image ID to the file")
	for _, n := range []struct{ name, short, typ, usage string }{
		{"add-host", "", "list", "Add a custom host-to-IP mapping"},
		{"cache-from", "", "stringSlice", "Images to consider as cache sources"},
		{"cgroup-parent", "", "string", `Set the parent cgroup for the "RUN" instructions during build`},
		{"compress", "", "bool", "Compress the build context using gzip"},
		{"cpu-shares", "c", "int", "CPU shares (relative weight)"},
		{"memory", "m", "bytes", "Memory limit"},
		{"shm-size", "", "bytes", `Size of "/dev/shm"`},
		{"squash", "", "bool", "Squash newly built layers into a single new layer"},
		{"ulimit", "", "ulimit", "Ulimit options"},
		{"isolation", "", "string", "Container isolation technology"},
		{"security-opt", "", "stringSlice", "Security options"},
	} {
		u.add(fs, n.name, n.short, n.typ, n.usage)
	}
	return cmd
}

func (cl *cli) runBuild(cmd *cobra.Command, contextArg string, f buildFlags) error {
	for _, t := range f.tags {
		if _, err := ref.Parse(t); err != nil {
			return fmt.Errorf("invalid argument %q for \"-t, --tag\" flag: %v", t, err)
		}
	}
	o := client.BuildOptions{
		Tags: f.tags, Target: f.target, NoCache: f.noCache, Quiet: f.quiet, Pull: f.pull,
		Remove: f.rm || f.forceRm, ForceRemove: f.forceRm, NetworkMode: f.network, Platform: f.platform,
		BuildArgs: map[string]*string{}, Labels: map[string]string{},
	}
	for _, a := range f.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if ok {
			o.BuildArgs[k] = &v
		} else if ev, set := os.LookupEnv(k); set {
			o.BuildArgs[k] = &ev
		} else {
			o.BuildArgs[k] = nil
		}
	}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		o.Labels[k] = v
	}
	var body io.Reader
	stdout, stderr := out(cmd), errOut(cmd)
	var progBuf, buildBuf bytes.Buffer
	prog, buildOut := stdout, stdout
	if f.quiet {
		prog, buildOut = &progBuf, &buildBuf
	}
	fromStdin := f.file == "-"
	switch {
	case contextArg == "-":
		if fromStdin {
			return errors.New("invalid argument: can't use stdin for both build context and dockerfile")
		}
		r, name, err := contextFromReader(cmd.InOrStdin(), f.file)
		if err != nil {
			return fmt.Errorf("unable to prepare context from STDIN: %w", err)
		}
		body, o.Dockerfile = r, name
	case strings.HasPrefix(contextArg, "http://"), strings.HasPrefix(contextArg, "https://"), strings.HasPrefix(contextArg, "git@"),
		strings.HasPrefix(contextArg, "github.com/"):
		return fmt.Errorf("unable to prepare context: remote build contexts (%s) are not supported by shoal", contextArg)
	default:
		st, err := os.Stat(contextArg)
		if err != nil || !st.IsDir() {
			return fmt.Errorf("unable to prepare context: path %q not found", contextArg)
		}
		var dockerfile []byte
		if fromStdin {
			if dockerfile, err = io.ReadAll(cmd.InOrStdin()); err != nil {
				return err
			}
		}
		r, name, err := contextFromDir(contextArg, f.file, dockerfile)
		if err != nil {
			return fmt.Errorf("unable to prepare context: %s", err)
		}
		body, o.Dockerfile = r, name
	}
	counted := &countingReader{r: body}
	c, err := cl.client()
	if err != nil {
		return err
	}
	resp, err := c.ImageBuild(cmd.Context(), counted, o)
	fmt.Fprintf(prog, "Sending build context to Shoal daemon %8v\r\r\n", units.HumanSizeWithPrecision(float64(counted.n), 4))
	if err != nil {
		if f.quiet {
			fmt.Fprint(stderr, progBuf.String())
		}
		return err
	}
	defer resp.Close()
	imageID, err := renderBuild(resp, buildOut)
	if err != nil {
		var se statusError
		if errors.As(err, &se) && f.quiet {
			fmt.Fprintf(stderr, "%s%s", progBuf.String(), buildBuf.String())
		}
		return err
	}
	if f.quiet {
		imageID = buildBuf.String()
		fmt.Fprint(stdout, imageID)
	}
	if f.iidfile != "" {
		if imageID == "" {
			return fmt.Errorf("server did not provide an image ID. Cannot write %s", f.iidfile)
		}
		if err := os.WriteFile(f.iidfile, []byte(imageID), 0o666); err != nil {
			return err
		}
	}
	return nil
}

// renderBuild prints a build's stream as the docker CLI does and returns
// the last image ID announced. A failed build is a statusError with the
// failed command's exit code.
func renderBuild(r io.Reader, w io.Writer) (string, error) {
	dec := json.NewDecoder(r)
	id := ""
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return id, nil
			}
			return id, fmt.Errorf("read build output: %w", err)
		}
		if m.Error != nil {
			code := m.Error.Code
			if code == 0 {
				code = 1
			}
			return id, statusError{code: code, msg: m.Error.Message}
		}
		if m.Aux != nil {
			var res struct{ ID string }
			if json.Unmarshal(*m.Aux, &res) == nil && res.ID != "" {
				id = res.ID
			}
			continue
		}
		if m.Stream != "" {
			fmt.Fprint(w, m.Stream)
		} else if m.Status != "" {
			if m.ID != "" {
				fmt.Fprintf(w, "%s: ", m.ID)
			}
			fmt.Fprintln(w, m.Status)
		}
	}
}

// contextFromReader is `build -`: a tar (possibly compressed) passed on
// as it is, or a Dockerfile, wrapped in a tar.
func contextFromReader(r io.Reader, dockerfile string) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, "", err
	}
	if looksArchive(head) {
		return br, dockerfile, nil
	}
	if dockerfile != "" {
		return nil, "", errors.New("ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles")
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "Dockerfile", Mode: 0o600, Size: int64(len(data)), ModTime: now}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, "Dockerfile", nil
}

// looksArchive says whether head starts a tar or a compressed stream.
func looksArchive(head []byte) bool {
	for _, magic := range [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(head, magic) {
			return true
		}
	}
	return len(head) >= 512 && (bytes.Equal(head[257:262], []byte("ustar")))
}

// contextFromDir tars the directory dir as the docker CLI does: what
// .dockerignore excludes is left out (but never .dockerignore or the
// Dockerfile), owners are root. A Dockerfile outside dir, or read from
// stdin, is added under a random name that .dockerignore then hides. It
// returns the Dockerfile's name in the context.
func contextFromDir(dir, dockerfile string, stdinDockerfile []byte) (io.Reader, string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, "", err
	}
	if absDir, err = filepath.EvalSymlinks(absDir); err != nil {
		return nil, "", err
	}
	var extra []byte // a Dockerfile from outside the context
	rel := ""
	switch {
	case stdinDockerfile != nil:
		extra = stdinDockerfile
	case dockerfile == "":
		rel = "Dockerfile"
		if _, err := os.Stat(filepath.Join(absDir, rel)); err != nil {
			if _, lerr := os.Stat(filepath.Join(absDir, "dockerfile")); lerr == nil {
				rel = "dockerfile"
			} else {
				return nil, "", fmt.Errorf("Cannot locate specified Dockerfile: %s", rel)
			}
		}
	default:
		abs, err := filepath.Abs(dockerfile)
		if err != nil {
			return nil, "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, "", fmt.Errorf("Cannot locate specified Dockerfile: %s", dockerfile)
		}
		if r, err := filepath.Rel(absDir, abs); err == nil && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && r != ".." {
			rel = filepath.ToSlash(r)
		} else if extra, err = os.ReadFile(abs); err != nil {
			return nil, "", fmt.Errorf("unable to open Dockerfile: %w", err)
		}
	}
	var excludes []string
	if data, err := os.ReadFile(filepath.Join(absDir, ".dockerignore")); err == nil {
		if excludes, err = ignorefile.ReadAll(bytes.NewReader(data)); err != nil {
			return nil, "", fmt.Errorf("error reading .dockerignore: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	keep := []string{".dockerignore"}
	if rel != "" {
		keep = append(keep, rel)
	}
	for _, k := range keep {
		if m, _ := patternmatcher.Matches(k, excludes); m {
			excludes = append(excludes, "!"+k)
		}
	}
	var pm *patternmatcher.PatternMatcher
	if len(excludes) > 0 {
		if pm, err = patternmatcher.New(excludes); err != nil {
			return nil, "", err
		}
	}
	name := rel
	var extraName string
	if extra != nil {
		var b [10]byte
		_, _ = rand.Read(b[:])
		extraName = ".dockerfile." + hex.EncodeToString(b[:])
		name = extraName
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeContextTar(pw, absDir, pm, extraName, extra))
	}()
	return pr, name, nil
}

func writeContextTar(w io.Writer, root string, pm *patternmatcher.PatternMatcher, extraName string, extra []byte) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	tw := tar.NewWriter(bw)
	sawIgnore := false
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if pm != nil {
			excluded, err := pm.MatchesOrParentMatches(rel)
			if err != nil {
				return err
			}
			if excluded {
				if d.IsDir() && !pm.Exclusions() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() && link == "" {
			return nil // sockets, devices, FIFOs
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		var content io.Reader
		if rel == ".dockerignore" && extraName != "" {
			sawIgnore = true
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			data = append(data, []byte("\n"+extraName+"\n")...)
			hdr.Size = int64(len(data))
			content = bytes.NewReader(data)
		} else if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			content = f
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if content != nil {
			if _, err := io.CopyN(tw, content, hdr.Size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if extraName != "" {
		now := time.Now()
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: extraName, Mode: 0o600, Size: int64(len(extra)), ModTime: now}); err != nil {
			return err
		}
		if _, err := tw.Write(extra); err != nil {
			return err
		}
		if !sawIgnore {
			ig := []byte(".dockerignore\n" + extraName + "\n")
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ".dockerignore", Mode: 0o600, Size: int64(len(ig)), ModTime: now}); err != nil {
				return err
			}
			if _, err := tw.Write(ig); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
