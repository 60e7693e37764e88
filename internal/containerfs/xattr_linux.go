package containerfs

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix    = ".wh."
	whiteoutOpaqueDir = ".wh..wh..opq"
	paxXattrPrefix    = "SCHILY.xattr."
	capabilityXattr   = "security.capability"
	selinuxXattr      = "security.selinux"
)

// overlayXattrPrefixes are where overlayfs keeps its own attributes in
// layer directories: trusted.* normally, user.* with the userxattr mount
// option.
var overlayXattrPrefixes = []string{"trusted.overlay.", "user.overlay."}

// xattr is one extended attribute.
type xattr struct {
	name  string
	value []byte
}

// node names a file for the xattr calls without following it: a descriptor
// opened for reading (fd >= 0), or else the component base of the
// directory dirfd, reached through /proc/self/fd so the l*xattr calls
// resolve nothing but that last component, which they never follow.
type node struct {
	fd    int
	dirfd int
	base  string
}

func (n node) path() string {
	return "/proc/self/fd/" + strconv.Itoa(n.dirfd) + "/" + n.base
}

func (n node) list(buf []byte) (int, error) {
	if n.fd >= 0 {
		return unix.Flistxattr(n.fd, buf)
	}
	return unix.Llistxattr(n.path(), buf)
}

func (n node) get(name string, buf []byte) (int, error) {
	if n.fd >= 0 {
		return unix.Fgetxattr(n.fd, name, buf)
	}
	return unix.Lgetxattr(n.path(), name, buf)
}

// ignorableXattrErr: no xattr support, or nothing to read.
func ignorableXattrErr(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENODATA) || errors.Is(err, unix.EPERM) ||
		errors.Is(err, unix.EACCES)
}

// getXattr returns the value of one attribute, nil if it is not set.
func getXattr(n node, name string) ([]byte, error) {
	for size := 64; size <= 1<<20; {
		buf := make([]byte, size)
		m, err := n.get(name, buf)
		switch {
		case err == nil:
			return buf[:m], nil
		case errors.Is(err, unix.ERANGE):
			if m, err = n.get(name, nil); err != nil || m < size {
				size *= 2
			} else {
				size = m
			}
			continue
		case ignorableXattrErr(err):
			return nil, nil
		default:
			return nil, fmt.Errorf("get xattr %s: %w", name, err)
		}
	}
	return nil, fmt.Errorf("get xattr %s: value larger than 1 MiB: %w", name, unix.E2BIG)
}

// listXattrs returns every extended attribute of n, sorted by name. An
// attribute that vanishes between listing and reading is skipped.
func listXattrs(n node) ([]xattr, error) {
	var names []byte
	for size := 256; ; {
		buf := make([]byte, size)
		m, err := n.list(buf)
		if err == nil {
			names = buf[:m]
			break
		}
		if ignorableXattrErr(err) {
			return nil, nil
		}
		if !errors.Is(err, unix.ERANGE) || size >= 1<<20 {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		size *= 4
	}
	var xs []xattr
	for _, name := range strings.Split(string(names), "\x00") {
		if name == "" {
			continue
		}
		v, err := getXattr(n, name)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		xs = append(xs, xattr{name: name, value: v})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].name < xs[j].name })
	return xs, nil
}

func isOverlayXattr(name string) bool {
	for _, p := range overlayXattrPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// overlayXattr reports whether xs holds overlayfs' attribute suffix
// ("opaque", "whiteout", ...) under either prefix, and its value.
func overlayXattr(xs []xattr, suffix string) ([]byte, bool) {
	for _, x := range xs {
		for _, p := range overlayXattrPrefixes {
			if x.name == p+suffix {
				return x.value, true
			}
		}
	}
	return nil, false
}

// getOverlayXattr reads overlayfs' attribute suffix of n under either
// prefix; nil if neither is set.
func getOverlayXattr(n node, suffix string) ([]byte, error) {
	for _, p := range overlayXattrPrefixes {
		v, err := getXattr(n, p+suffix)
		if err != nil || v != nil {
			return v, err
		}
	}
	return nil, nil
}

// paxXattrs turns the attributes worth archiving into PAX records:
// overlayfs' own attributes and SELinux labels (which belong to the host's
// policy) are left out, and a version 3 file capability, whose root uid
// only means something in the user namespace it was written in, is written
// as version 2, as Docker does.
func paxXattrs(xs []xattr) map[string]string {
	var recs map[string]string
	for _, x := range xs {
		if isOverlayXattr(x.name) || x.name == selinuxXattr {
			continue
		}
		v := x.value
		if x.name == capabilityXattr {
			v = capabilityV2(v)
		}
		if recs == nil {
			recs = make(map[string]string)
		}
		recs[paxXattrPrefix+x.name] = string(v)
	}
	return recs
}

// capabilityV2 converts a VFS_CAP_REVISION_3 security.capability value to
// revision 2 by dropping its root uid.
func capabilityV2(v []byte) []byte {
	const (
		revisionMask = 0xff000000
		revision2    = 0x02000000
		revision3    = 0x03000000
		sizeV2       = 20
	)
	if len(v) < sizeV2 {
		return v
	}
	magic := uint32(v[0]) | uint32(v[1])<<8 | uint32(v[2])<<16 | uint32(v[3])<<24
	if magic&revisionMask != revision3 {
		return v
	}
	magic = magic&^revisionMask | revision2
	out := append([]byte(nil), v[:sizeV2]...)
	out[0], out[1], out[2], out[3] = byte(magic), byte(magic>>8), byte(magic>>16), byte(magic>>24)
	return out
}

// isWhiteout reports whether an entry of an overlay layer directory is a
// whiteout: a 0:0 character device, or (Linux 6.7+, layers stored on
// overlayfs) an empty regular file with the overlay "whiteout" xattr.
func isWhiteout(st *unix.Stat_t, n node) (bool, error) {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return st.Rdev == 0, nil
	case unix.S_IFREG:
		if st.Size != 0 {
			return false, nil
		}
		v, err := getOverlayXattr(n, "whiteout")
		return v != nil, err
	}
	return false, nil
}

// isOpaque reports whether the overlay layer directory n is opaque ("y";
// "x" means only that it holds xattr whiteouts).
func isOpaque(n node) (bool, error) {
	v, err := getOverlayXattr(n, "opaque")
	return string(v) == "y", err
}

// dirNode is the node of an open directory.
func dirNode(d *os.File) node { return node{fd: int(d.Fd())} }
