package rootfs

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Epoch is the time stamp of every file and of the image config in an
// image archive, so the same tree always gives the same image ID.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ImageArchive writes root as a one-layer image named ref in the classic
// `docker save` layout and returns the image ID (the config's digest);
// createdBy is its history line.
func ImageArchive(root, dst, ref, createdBy string) (string, error) {
	var layer bytes.Buffer
	if err := TarTree(root, &layer); err != nil {
		return "", err
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerHex := hex.EncodeToString(layerSum[:])
	config := map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      Epoch.Format(time.RFC3339),
		"config": map[string]any{
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd": []string{"sh"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerHex}},
		"history": []map[string]any{{"created": Epoch.Format(time.RFC3339), "created_by": createdBy}},
	}
	cfg, err := json.Marshal(config)
	if err != nil {
		return "", err
	}
	cfgSum := sha256.Sum256(cfg)
	cfgHex := hex.EncodeToString(cfgSum[:])
	name, tag, _ := strings.Cut(ref, ":")
	manifest, _ := json.Marshal([]map[string]any{{
		"Config": cfgHex + ".json", "RepoTags": []string{ref}, "Layers": []string{layerHex + "/layer.tar"},
	}})
	repos, _ := json.Marshal(map[string]map[string]string{name: {tag: layerHex}})

	f, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: Epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err = tw.WriteHeader(&tar.Header{Name: layerHex + "/", Mode: 0o755, ModTime: Epoch, Typeflag: tar.TypeDir})
	for _, e := range []struct {
		name string
		data []byte
	}{
		{layerHex + "/VERSION", []byte("1.0")},
		{layerHex + "/layer.tar", layer.Bytes()},
		{cfgHex + ".json", cfg},
		{"manifest.json", manifest},
		{"repositories", repos},
	} {
		if err == nil {
			err = add(e.name, e.data)
		}
	}
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", dst, err)
	}
	return "sha256:" + cfgHex, nil
}

// TarTree writes the tree at root as a layer tarball: paths relative to
// root in lexical order, owned by root, time stamps Epoch.
func TarTree(root string, w io.Writer) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	for _, p := range paths {
		fi, err := os.Lstat(p)
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
		rel, _ := filepath.Rel(root, p)
		h.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "root", "root"
		h.ModTime, h.AccessTime, h.ChangeTime = Epoch, time.Time{}, time.Time{}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
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
	}
	return tw.Close()
}
