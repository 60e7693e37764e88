package containerfs

import (
	"os"
	"time"
)

// PathStat is what Docker sends, base64-encoded JSON, in the
// X-Docker-Container-Path-Stat header. It has the fields and JSON names of
// Docker's container.PathStat.
type PathStat struct {
	// Name is the base name of the path as given ("/" for the root).
	Name string `json:"name"`
	Size int64  `json:"size"`
	// Mode is the file's own mode, a symlink's when the path names one.
	Mode  os.FileMode `json:"mode"`
	Mtime time.Time   `json:"mtime"`
	// LinkTarget is, for a symlink, the path inside the container it
	// resolves to; empty otherwise.
	LinkTarget string `json:"linkTarget"`
}

// ChangeKind is the kind of a Change, numbered as Docker's
// container.ChangeType.
type ChangeKind uint8

// The change kinds, as docker diff prints them: C, A and D.
const (
	ChangeModify ChangeKind = 0
	ChangeAdd    ChangeKind = 1
	ChangeDelete ChangeKind = 2
)

// String returns the letter docker diff prints for k.
func (k ChangeKind) String() string {
	switch k {
	case ChangeModify:
		return "C"
	case ChangeAdd:
		return "A"
	case ChangeDelete:
		return "D"
	}
	return "?"
}

// Change is one entry of docker diff. It has the fields and JSON names of
// Docker's container.FilesystemChange.
type Change struct {
	// Path is absolute inside the container: "/etc/hosts".
	Path string     `json:"Path"`
	Kind ChangeKind `json:"Kind"`
}
