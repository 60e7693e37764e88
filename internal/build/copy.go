package build

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// copySource is one source of a COPY or ADD.
type copySource struct {
	// path is the source: a clean context path ("" for the root), or an
	// absolute path in the --from image.
	path string
	// name is what a file is called when copied into a directory: the
	// last element of the source as written (a symlink's own name).
	name  string
	isDir bool
	// entry is the context entry (nil for a --from source).
	entry *entry
	// archive marks an ADD source that is a local tar: extracted.
	archive bool
}

// copyStep is COPY and ADD.
func (r *run) copyStep(ctx context.Context, s *state, in *Instruction) error {
	isAdd := in.Cmd == "add"
	cmdName := strings.ToUpper(in.Cmd)
	env := s.env()
	var args []string
	for _, a := range in.Args {
		v, err := r.expand(a, env)
		if err != nil {
			return err
		}
		args = append(args, v)
	}
	flag := func(name string) (string, error) { return r.expand(in.Flags[name], env) }
	chown, err := flag("chown")
	if err != nil {
		return err
	}
	chmodStr, err := flag("chmod")
	if err != nil {
		return err
	}
	from, err := flag("from")
	if err != nil {
		return err
	}
	var chmod *int64
	if chmodStr != "" {
		m, err := strconv.ParseUint(chmodStr, 8, 32)
		if err != nil || m > 0o7777 {
			return invalidf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", chmodStr)
		}
		mode := int64(m)
		chmod = &mode
	}
	srcs, dest := args[:len(args)-1], args[len(args)-1]
	dest = normalizeDest(s.cfg.WorkingDir, dest)

	var sources []copySource
	var srcImage string
	keyText := &strings.Builder{}
	fmt.Fprintf(keyText, "%s\x00chown=%s\x00chmod=%s\x00dest=%s", in.Cmd, chown, chmodStr, dest)
	if from != "" {
		if srcImage, err = r.copyFromImage(ctx, from); err != nil {
			return fmt.Errorf("invalid from flag value %s: %w", from, err)
		}
		fmt.Fprintf(keyText, "\x00from=%s", srcImage)
		for _, src := range srcs {
			fmt.Fprintf(keyText, "\x00src=%s", src)
		}
	} else {
		for _, src := range srcs {
			if isURL(src) {
				if isAdd {
					return invalidf("ADD failed: cannot download %s: this daemon has no internet access, so ADD of a remote URL is not supported; download the file into the build context and ADD or COPY it from there", src)
				}
				return invalidf("COPY failed: source can't be a URL for COPY")
			}
			found, err := r.contextSources(src, isAdd)
			if err != nil {
				return fmt.Errorf("%s failed: %w", cmdName, err)
			}
			sources = append(sources, found...)
		}
		if len(sources) == 0 {
			return invalidf("%s failed: no source files were specified", cmdName)
		}
		if len(sources) > 1 && !strings.HasSuffix(dest, "/") {
			return invalidf("When using %s with more than one source file, the destination must be a directory and end with a /", cmdName)
		}
		for _, src := range sources {
			sum := r.bc.treeSum(src.path, src.entry)
			fmt.Fprintf(keyText, "\x00src=%s\x00%s\x00%x\x00%t", src.name, src.path, sum, src.archive)
		}
	}
	key := stepKey(s.imageID, keyText.String(), s.maintainer)
	if r.cached(ctx, s, key) {
		return nil
	}

	comment := copyComment(cmdName, chown, keyText.String(), dest)
	cid, err := r.helper(ctx, s, comment, chownUser(chown))
	if err != nil {
		return err
	}
	defer r.removeHelper(ctx, cid)
	var srcCID string
	if from != "" {
		if srcCID, err = r.be.CreateContainer(ctx, ContainerConfig{
			Image: srcImage, Entrypoint: []string{"/bin/sh"}, Cmd: []string{"-c", "#(nop) " + cmdName + " --from"}, NetworkMode: "none",
		}); err != nil {
			return err
		}
		defer r.removeHelper(ctx, srcCID)
		if sources, err = r.imageSources(ctx, srcCID, srcs, cmdName); err != nil {
			return err
		}
		if len(sources) > 1 && !strings.HasSuffix(dest, "/") {
			return invalidf("When using %s with more than one source file, the destination must be a directory and end with a /", cmdName)
		}
	}
	if err := r.performCopy(ctx, cid, sources, srcCID, dest, chown != "", chmod); err != nil {
		return err
	}
	return r.commitLayer(ctx, s, cid, key, nopComment(s, comment, true))
}

// copyComment is the history comment of a COPY or ADD, as Docker's:
// "COPY file:<hash> in /dest ".
func copyComment(cmdName, chown, keyText, dest string) string {
	sum := sha256.Sum256([]byte(keyText))
	c := cmdName + " "
	if chown != "" {
		c += "--chown=" + chown + " "
	}
	return c + "multi:" + hex.EncodeToString(sum[:]) + " in " + dest + " "
}

// chownUser is the container user a --chown value becomes: as Docker's
// classic builder, a user without a group means the group of that name
// (or number).
func chownUser(chown string) string {
	if chown == "" || strings.Contains(chown, ":") {
		return chown
	}
	return chown + ":" + chown
}

// normalizeDest makes a relative destination relative to the working
// directory, keeping a trailing slash.
func normalizeDest(workdir, dest string) string {
	if path.IsAbs(dest) {
		return dest
	}
	slash := strings.HasSuffix(dest, "/")
	d := path.Join("/", workdir, dest)
	if slash && d != "/" {
		d += "/"
	}
	return d
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@")
}

// contextSources resolves one source of the context (a path or a
// wildcard pattern).
func (r *run) contextSources(src string, isAdd bool) ([]copySource, error) {
	p := strings.TrimPrefix(src, "/")
	p = strings.TrimPrefix(p, "./")
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, invalidf("forbidden path outside the build context: %s", src)
	}
	if clean == "." {
		clean = ""
	}
	if containsWildcards(p) {
		matches, err := r.bc.match(p)
		if err != nil {
			return nil, err
		}
		var out []copySource
		for _, m := range matches {
			one, err := r.contextSource(m, m, isAdd)
			if err != nil {
				return nil, err
			}
			out = append(out, one)
		}
		return out, nil
	}
	one, err := r.contextSource(clean, src, isAdd)
	if err != nil {
		return nil, err
	}
	return []copySource{one}, nil
}

func (r *run) contextSource(p, orig string, isAdd bool) (copySource, error) {
	resolved, e, err := r.bc.resolve(p)
	if err != nil {
		var nf errNotInContext
		if errors.As(err, &nf) {
			return copySource{}, notFoundf("%s", errNotInContext{strings.TrimPrefix(orig, "/")}.Error())
		}
		return copySource{}, err
	}
	src := copySource{path: resolved, name: path.Base(p), isDir: e.isDir(), entry: e}
	if p == "" {
		src.name = ""
	}
	if isAdd && e.typ == tar.TypeReg {
		if src.archive, err = r.isArchive(resolved); err != nil {
			return copySource{}, err
		}
	}
	return src, nil
}

// isArchive says whether a context file is a tar (plain, gzip, bzip2 or
// zstd), which ADD extracts.
func (r *run) isArchive(p string) (bool, error) {
	f, err := r.bc.open(p)
	if err != nil {
		return false, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	rc, err := decompress(f)
	if err != nil {
		return false, nil
	}
	defer rc.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(rc, head)
	return isTarHeader(head[:n]), nil
}

// copyFromImage resolves COPY --from: a stage by name or index, or an
// image.
func (r *run) copyFromImage(ctx context.Context, from string) (string, error) {
	for _, st := range r.done {
		if st.name != "" && st.name == strings.ToLower(from) {
			return r.stageImage(ctx, st)
		}
	}
	if n, err := strconv.Atoi(from); err == nil {
		switch {
		case n == len(r.done):
			return "", errors.New("refers to current build stage")
		case n < 0 || n > len(r.done):
			return "", errors.New("index out of bounds")
		}
		return r.stageImage(ctx, r.done[n])
	}
	img, err := r.baseImage(ctx, from)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

func (r *run) stageImage(ctx context.Context, st stageResult) (string, error) {
	if st.imageID != "" {
		return st.imageID, nil
	}
	return r.baseForContainer(ctx, &state{})
}

// imageSources resolves the sources of COPY --from in cid, a container of
// the source image.
func (r *run) imageSources(ctx context.Context, cid string, srcs []string, cmdName string) ([]copySource, error) {
	var out []copySource
	for _, src := range srcs {
		p := path.Clean("/" + strings.TrimPrefix(src, "./"))
		if containsWildcards(p) {
			dir, pattern := path.Split(p)
			if containsWildcards(dir) {
				return nil, invalidf("%s failed: wildcards are supported only in the last element of a --from source: %s", cmdName, src)
			}
			names, err := r.listDir(ctx, cid, dir)
			if err != nil {
				return nil, fmt.Errorf("%s failed: %w", cmdName, err)
			}
			for _, n := range names {
				if ok, _ := path.Match(pattern, n); ok {
					one, err := r.imageSource(ctx, cid, path.Join(dir, n), cmdName)
					if err != nil {
						return nil, err
					}
					out = append(out, one)
				}
			}
			continue
		}
		one, err := r.imageSource(ctx, cid, p, cmdName)
		if err != nil {
			return nil, err
		}
		out = append(out, one)
	}
	if len(out) == 0 {
		return nil, invalidf("%s failed: no source files were specified", cmdName)
	}
	return out, nil
}

func (r *run) imageSource(ctx context.Context, cid, p, cmdName string) (copySource, error) {
	src := copySource{path: p, name: path.Base(p)}
	for range 40 {
		info, err := r.be.StatPath(ctx, cid, src.path)
		if errdefs.IsNotFound(err) {
			return copySource{}, notFoundf("%s failed: stat %s: file does not exist", cmdName, strings.TrimPrefix(p, "/"))
		}
		if err != nil {
			return copySource{}, fmt.Errorf("%s failed: %w", cmdName, err)
		}
		if info.Mode&os.ModeSymlink != 0 && info.LinkTarget != "" {
			src.path = info.LinkTarget
			continue
		}
		src.isDir = info.Mode.IsDir()
		return src, nil
	}
	return copySource{}, invalidf("%s failed: too many levels of symbolic links: %s", cmdName, p)
}

// listDir lists the names directly in dir of a container.
func (r *run) listDir(ctx context.Context, cid, dir string) ([]string, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(r.be.CopyFrom(ctx, cid, dir, pw)) }()
	defer pr.Close()
	tr := tar.NewReader(pr)
	var names []string
	base := path.Base(dir)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		rel := relToSource(hdr.Name, base)
		if rel != "" && !strings.Contains(rel, "/") {
			names = append(names, rel)
		}
	}
}

// relToSource is an archive entry's name relative to the source it was
// archived from (the source itself is "").
func relToSource(name, base string) string {
	name = strings.TrimPrefix(name, "./")
	if base == "/" || base == "" {
		return strings.Trim(name, "/")
	}
	name = strings.TrimSuffix(name, "/")
	if name == base {
		return ""
	}
	if rest, ok := strings.CutPrefix(name, base+"/"); ok {
		return rest
	}
	return name
}

// performCopy writes the sources into the container cid under dest.
func (r *run) performCopy(ctx context.Context, cid string, sources []copySource, srcCID, dest string, chown bool, chmod *int64) error {
	destDir := strings.HasSuffix(dest, "/")
	destPath := strings.TrimPrefix(path.Clean(dest), "/")
	if len(sources) == 1 && !sources[0].isDir && !sources[0].archive && !destDir {
		if info, err := r.be.StatPath(ctx, cid, strings.TrimSuffix(dest, "/")+"/"); err == nil && info.Mode.IsDir() {
			destDir = true
		}
	}
	// Where each source goes (relative to /).
	targets := make([]string, len(sources))
	for i, src := range sources {
		switch {
		case src.isDir || src.archive:
			targets[i] = destPath
		case destDir:
			targets[i] = path.Join(destPath, src.name)
		default:
			targets[i] = destPath
		}
	}
	var newDirs []string
	if chown || slices.ContainsFunc(sources, func(s copySource) bool { return s.isDir }) {
		var err error
		if newDirs, err = r.missingDirs(ctx, cid, sources, targets); err != nil {
			return err
		}
	}
	var plain []int
	for i, src := range sources {
		if !src.archive {
			plain = append(plain, i)
		}
	}
	if len(plain) > 0 || len(newDirs) > 0 {
		err := r.copyTar(ctx, cid, chown, func(tw *tar.Writer) error {
			w := &tarWriter{tw: tw, chmod: chmod, done: map[string]bool{}, now: time.Now()}
			for _, d := range newDirs {
				if err := w.dir(d, 0o755, 0, 0); err != nil {
					return err
				}
			}
			for _, i := range plain {
				var err error
				if srcCID != "" {
					err = r.writeImageSource(ctx, w, srcCID, sources[i], targets[i])
				} else {
					err = r.writeContextSource(w, sources[i], targets[i])
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i, src := range sources {
		if !src.archive {
			continue
		}
		if err := r.copyTar(ctx, cid, false, func(tw *tar.Writer) error {
			return r.writeArchive(tw, src.path, targets[i])
		}); err != nil {
			return err
		}
	}
	return nil
}

// copyTar streams the tar fill writes into the container's root.
func (r *run) copyTar(ctx context.Context, cid string, chown bool, fill func(*tar.Writer) error) error {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		tw := tar.NewWriter(bw)
		err := fill(tw)
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	err := r.be.CopyTo(ctx, cid, "/", pr, chown)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("failed to copy files: %w", err)
	}
	return nil
}

// missingDirs lists the directories the copy creates (parents first), so
// that a --chown copy owns them, as Docker's does; directories that exist
// are left as they are.
func (r *run) missingDirs(ctx context.Context, cid string, sources []copySource, targets []string) ([]string, error) {
	exists := map[string]bool{"": true, ".": true}
	var out []string
	var need func(d string) error
	need = func(d string) error {
		if exists[d] {
			return nil
		}
		if err := need(path.Dir(d)); err != nil {
			return err
		}
		if _, known := exists[d]; known {
			return nil
		}
		info, err := r.be.StatPath(ctx, cid, "/"+d+"/")
		if err == nil && info.Mode.IsDir() {
			exists[d] = true
			return nil
		}
		exists[d] = false
		out = append(out, d)
		return nil
	}
	for i, src := range sources {
		d := targets[i]
		if !src.isDir && !src.archive {
			d = path.Dir(d)
		}
		if d == "." {
			continue
		}
		if err := need(d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tarWriter writes the entries of a copy.
type tarWriter struct {
	tw    *tar.Writer
	chmod *int64
	done  map[string]bool // directories written
	now   time.Time       // the time of directories the copy makes
}

func (w *tarWriter) dir(name string, mode int64, uid, gid int) error {
	if name == "" || name == "." || w.done[name] {
		return nil
	}
	w.done[name] = true
	return w.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: gid, ModTime: w.now})
}

// parents writes a directory entry for each missing parent of name
// inside the copied tree below top.
func (w *tarWriter) parents(name, top string) error {
	d := path.Dir(name)
	if d == "." || d == top || w.done[d] || !strings.HasPrefix(d, top+"/") && top != "" {
		return nil
	}
	if err := w.parents(d, top); err != nil {
		return err
	}
	return w.dir(d, 0o755, 0, 0)
}

func (w *tarWriter) mode(m int64) int64 {
	if w.chmod != nil {
		return *w.chmod
	}
	return m
}

// writeContextSource writes a context file or directory tree to target.
func (r *run) writeContextSource(w *tarWriter, src copySource, target string) error {
	if !src.isDir {
		return r.writeContextEntry(w, src.path, src.entry, target)
	}
	for _, q := range r.bc.under(src.path) {
		rel := q
		if src.path != "" {
			rel = q[len(src.path)+1:]
		}
		name := path.Join(target, rel)
		if err := w.parents(name, target); err != nil {
			return err
		}
		if err := r.writeContextEntry(w, q, r.bc.visible[q], name); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) writeContextEntry(w *tarWriter, p string, e *entry, name string) error {
	hdr := &tar.Header{Name: name, Mode: e.mode, ModTime: e.modTime}
	switch e.typ {
	case tar.TypeDir:
		if w.done[name] {
			return nil
		}
		w.done[name] = true
		hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", w.mode(e.mode)
		return w.tw.WriteHeader(hdr)
	case tar.TypeSymlink:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		return w.tw.WriteHeader(hdr)
	case tar.TypeReg:
		f, err := r.bc.open(p)
		if err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
		defer f.Close()
		hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, e.size, w.mode(e.mode)
		if err := w.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.CopyN(w.tw, f, e.size); err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
	}
	return nil
}

// writeImageSource copies a path of the --from image (through the source
// container) to target, keeping owners.
func (r *run) writeImageSource(ctx context.Context, w *tarWriter, srcCID string, src copySource, target string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(r.be.CopyFrom(ctx, srcCID, src.path, pw)) }()
	defer pr.Close()
	tr := tar.NewReader(pr)
	base := path.Base(src.path)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", src.path, err)
		}
		rel := relToSource(hdr.Name, base)
		if src.isDir && rel == "" {
			continue // the directory itself: the destination keeps its own
		}
		name := target
		if src.isDir {
			name = path.Join(target, rel)
		}
		if err := w.parents(name, target); err != nil {
			return err
		}
		out := *hdr
		out.Name = name
		if hdr.Typeflag == tar.TypeLink {
			lrel := relToSource(hdr.Linkname, base)
			out.Linkname = path.Join(target, lrel)
		}
		if hdr.Typeflag == tar.TypeDir {
			if w.done[name] {
				continue
			}
			w.done[name] = true
			out.Name = name + "/"
		}
		if hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeLink {
			out.Mode = w.mode(hdr.Mode & 0o7777)
		}
		if err := w.tw.WriteHeader(&out); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if _, err := io.Copy(w.tw, tr); err != nil {
				return err
			}
		}
	}
}

// writeArchive writes the entries of a context tar (ADD) below target.
func (r *run) writeArchive(tw *tar.Writer, p, target string) error {
	f, err := r.bc.open(p)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	rc, err := decompress(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalidf("ADD failed: %s: %v", p, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
		out := *hdr
		out.Name = path.Join(target, name)
		if hdr.Typeflag == tar.TypeDir {
			out.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			out.Linkname = path.Join(target, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		}
		if err := tw.WriteHeader(&out); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}

// writeDirTar writes a tar of one directory entry (WORKDIR); missing
// parents are made by the extraction (root-owned, 0755, as Docker's).
func writeDirTar(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	if dir != "" {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: time.Now()}); err != nil {
			return err
		}
	}
	return tw.Close()
}
