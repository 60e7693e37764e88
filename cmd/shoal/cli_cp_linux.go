package main

import (
	"io/fs"
	"syscall"
)

// inodeOf is a file's inode and link count, to keep hard links linked.
func inodeOf(fi fs.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, uint64(st.Nlink)
	}
	return 0, 1
}
