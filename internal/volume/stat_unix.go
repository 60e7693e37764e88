//go:build unix

package volume

import (
	"io/fs"
	"syscall"
)

// fileID identifies an inode, to count or copy hard links once.
type fileID struct{ dev, ino uint64 }

func fileIDOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true //nolint:unconvert // not uint64 on every platform
}
