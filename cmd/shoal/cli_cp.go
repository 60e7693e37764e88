package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// cpArg is one side of cp: a local path, or CONTAINER:PATH.
type cpArg struct {
	container, path string
}

// splitCpArg tells CONTAINER:PATH from a local path: a path that starts
// with "/" or "." is local even if it has a colon.
func splitCpArg(s string) cpArg {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") {
		return cpArg{path: s}
	}
	c, p, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(c, "/") {
		return cpArg{path: s}
	}
	return cpArg{container: c, path: p}
}

func (cl *cli) newCpCmd() *cobra.Command {
	var archive, followLink, quiet bool
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tshoal cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := splitCpArg(args[0]), splitCpArg(args[1])
			switch {
			case src.container != "" && dst.container != "":
				return errors.New("copying between containers is not supported")
			case src.container == "" && dst.container == "":
				return errors.New("must specify at least one container source")
			}
			if src.path == "" {
				return errors.New("source can not be empty")
			}
			if dst.path == "" {
				return errors.New("destination can not be empty")
			}
			var n int64
			var err error
			where := dst.path
			if src.container != "" {
				n, err = cl.copyFromContainer(cmd, src, dst.path, followLink)
			} else {
				where = dst.container + ":" + dst.path
				n, err = cl.copyToContainer(cmd, src.path, dst, archive, followLink)
			}
			if err != nil {
				return err
			}
			if _, tty := terminalFd(errOut(cmd)); tty && !quiet && dst.path != "-" && src.path != "-" {
				fmt.Fprintf(errOut(cmd), "Successfully copied %s to %s\n", units.HumanSize(float64(n)), where)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fs.BoolVarP(&followLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// countingReader counts the bytes copied.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (cl *cli) copyFromContainer(cmd *cobra.Command, src cpArg, dst string, followLink bool) (int64, error) {
	c, err := cl.client()
	if err != nil {
		return 0, err
	}
	ctx := cmd.Context()
	srcPath := src.path
	if followLink {
		if st, err := c.ContainerStatPath(ctx, src.container, srcPath); err == nil && st.LinkTarget != "" {
			srcPath = st.LinkTarget
		}
	}
	body, st, err := c.CopyFromContainer(ctx, src.container, srcPath)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	if dst == "-" {
		return io.Copy(out(cmd), body)
	}
	srcBase := path.Base(path.Clean(srcPath))
	if st.Name != "" {
		srcBase = st.Name
	}
	contentsOnly := strings.HasSuffix(srcPath, "/.")
	srcIsDir := st.Mode.IsDir()

	// Where the archive goes and what its root entry becomes.
	dir, rename := dst, ""
	fi, err := os.Stat(dst)
	switch {
	case err == nil && fi.IsDir():
		if contentsOnly {
			rename = "."
		}
	case err == nil:
		if srcIsDir {
			return 0, fmt.Errorf("cannot copy a directory to a file: %s", dst)
		}
		dir, rename = filepath.Dir(dst), filepath.Base(dst)
	case errors.Is(err, fs.ErrNotExist):
		if strings.HasSuffix(dst, string(filepath.Separator)) && !srcIsDir {
			return 0, fmt.Errorf("destination directory %s does not exist", dst)
		}
		dir, rename = filepath.Dir(filepath.Clean(dst)), filepath.Base(filepath.Clean(dst))
		if _, err := os.Stat(dir); err != nil {
			return 0, fmt.Errorf("destination directory %s does not exist", dir)
		}
	default:
		return 0, err
	}
	cr := &countingReader{r: body}
	if err := untar(cr, dir, srcBase, rename); err != nil {
		return cr.n, err
	}
	return cr.n, nil
}

// untar extracts a tar stream into dir, its entries under root renamed
// to rename ("" keeps them, "." puts root's contents into dir). Nothing
// is written outside dir.
func untar(r io.Reader, dir, root, rename string) error {
	tr := tar.NewReader(r)
	var dirs []*tar.Header
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := path.Clean("/" + h.Name)[1:]
		if rename != "" && root != "" {
			if name == root {
				name = rename
			} else if rest, ok := strings.CutPrefix(name, root+"/"); ok {
				name = path.Join(rename, rest)
			}
		}
		if name == "" || name == "." {
			continue
		}
		target, err := securejoin.SecureJoin(dir, name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := h.FileInfo().Mode()
		switch h.Typeflag {
		case tar.TypeDir:
			if fi, err := os.Lstat(target); err == nil && !fi.IsDir() {
				if err := os.Remove(target); err != nil {
					return err
				}
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			hh := *h
			hh.Name = target
			dirs = append(dirs, &hh)
			continue
		case tar.TypeReg:
			_ = os.Remove(target)
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
			continue // no times on the link itself
		case tar.TypeLink:
			linkName := path.Clean("/" + h.Linkname)[1:]
			if rename != "" && root != "" {
				if linkName == root {
					linkName = rename
				} else if rest, ok := strings.CutPrefix(linkName, root+"/"); ok {
					linkName = path.Join(rename, rest)
				}
			}
			old, err := securejoin.SecureJoin(dir, linkName)
			if err != nil {
				return err
			}
			_ = os.Remove(target)
			if err := os.Link(old, target); err != nil {
				return err
			}
		default:
			continue // devices and fifos are not copied out
		}
		if err := os.Chmod(target, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		_ = os.Chtimes(target, time.Now(), h.ModTime)
	}
	for _, h := range dirs {
		_ = os.Chmod(h.Name, h.FileInfo().Mode().Perm())
		_ = os.Chtimes(h.Name, time.Now(), h.ModTime)
	}
	return nil
}

func (cl *cli) copyToContainer(cmd *cobra.Command, src string, dst cpArg, archive, followLink bool) (int64, error) {
	c, err := cl.client()
	if err != nil {
		return 0, err
	}
	ctx := cmd.Context()
	if src == "-" {
		st, err := c.ContainerStatPath(ctx, dst.container, dst.path)
		if err != nil {
			return 0, err
		}
		if !st.Mode.IsDir() {
			return 0, errors.New("destination \"" + dst.container + ":" + dst.path + "\" must be a directory")
		}
		cr := &countingReader{r: cmd.InOrStdin()}
		return cr.n, c.CopyToContainer(ctx, dst.container, dst.path, cr, true, archive)
	}
	srcPath := src
	if followLink {
		if p, err := filepath.EvalSymlinks(src); err == nil {
			srcPath = p
		}
	}
	sfi, err := os.Lstat(srcPath)
	if err != nil {
		return 0, err
	}
	contentsOnly := strings.HasSuffix(src, string(filepath.Separator)+".")

	dstDir, rootName := dst.path, filepath.Base(filepath.Clean(srcPath))
	st, err := c.ContainerStatPath(ctx, dst.container, dst.path)
	switch {
	case err == nil && st.Mode.IsDir():
		if contentsOnly {
			rootName = ""
		}
	case err == nil:
		if sfi.IsDir() {
			return 0, fmt.Errorf("cannot copy a directory to a file: %s:%s", dst.container, dst.path)
		}
		dstDir, rootName = path.Dir(dst.path), path.Base(dst.path)
	case errdefs.IsNotFound(err):
		if strings.HasSuffix(dst.path, "/") && !sfi.IsDir() {
			return 0, fmt.Errorf("destination directory %s:%s does not exist", dst.container, dst.path)
		}
		dstDir, rootName = path.Dir(path.Clean(dst.path)), path.Base(path.Clean(dst.path))
	default:
		return 0, err
	}
	pr, pw := io.Pipe()
	cr := &countingReader{r: pr}
	go func() { pw.CloseWithError(tarPath(pw, srcPath, rootName)) }()
	err = c.CopyToContainer(ctx, dst.container, dstDir, cr, true, archive)
	pr.CloseWithError(io.ErrClosedPipe)
	return cr.n, err
}

// tarPath writes src as a tar stream, its root entry named root ("" for
// the contents of a directory only).
func tarPath(w io.Writer, src, root string) error {
	tw := tar.NewWriter(w)
	links := map[uint64]string{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join(root, rel))
		if name == "." || name == "" {
			return nil
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
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = name
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uname, h.Gname = "", ""
		if ino, nlink := inodeOf(fi); fi.Mode().IsRegular() && nlink > 1 {
			if first, ok := links[ino]; ok {
				h.Typeflag, h.Linkname, h.Size = tar.TypeLink, first, 0
			} else {
				links[ino] = name
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
