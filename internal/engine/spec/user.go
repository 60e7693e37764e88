package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// maxUserFile bounds how much of /etc/passwd or /etc/group is read.
const maxUserFile = 16 << 20

// ResolveUser resolves a Docker user ("", "name", "uid", "name:group",
// "uid:gid", ...) and --group-add entries in the passwd and group files of
// the root filesystem rootfs, as dockerd does for `docker run --user` and
// `docker exec --user`. The gid's own group comes first in
// AdditionalGids, then the groups listing the user, then groupAdd.
func ResolveUser(rootfs, user string, groupAdd []string) (specs.User, error) {
	u, _, err := resolveUser(rootfs, user, groupAdd)
	return u, err
}

// passwdEntry and groupEntry are lines of /etc/passwd and /etc/group.
type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// resolveUser is ResolveUser that also returns the user's home directory
// ("/" when the user has no passwd entry), for HOME.
func resolveUser(rootfs, user string, groupAdd []string) (specs.User, string, error) {
	passwd, err := readRootfsFile(rootfs, "/etc/passwd")
	if err != nil {
		return specs.User{}, "", err
	}
	group, err := readRootfsFile(rootfs, "/etc/group")
	if err != nil {
		return specs.User{}, "", err
	}
	// "user:group"; anything after a second colon is ignored, as in Docker.
	parts := strings.Split(user, ":")
	userArg, groupArg := parts[0], ""
	if len(parts) > 1 {
		groupArg = parts[1]
	}
	uidArg, isUID, err := parseID(userArg)
	if err != nil {
		return specs.User{}, "", err
	}
	gidArg, isGID, err := parseID(groupArg)
	if err != nil {
		return specs.User{}, "", err
	}

	uid, gid, home := 0, 0, "/"
	var matched *passwdEntry
	for _, p := range parsePasswd(passwd) {
		if userArg == "" && p.uid == 0 || isUID && p.uid == uidArg || !isUID && userArg != "" && p.name == userArg {
			matched = &p
			break
		}
	}
	switch {
	case matched != nil:
		uid, gid, home = matched.uid, matched.gid, matched.home
	case userArg != "" && !isUID:
		return specs.User{}, "", invalid("unable to find user %s: no matching entries in passwd file", userArg)
	case isUID:
		uid = uidArg
	}

	var sgids []int
	groups := parseGroup(group)
	switch {
	case groupArg != "":
		found := false
		for _, g := range groups {
			if isGID && g.gid == gidArg || !isGID && g.name == groupArg {
				gid, found = g.gid, true
				break
			}
		}
		if !found {
			if !isGID {
				return specs.User{}, "", invalid("unable to find group %s: no matching entries in group file", groupArg)
			}
			gid = gidArg
		}
	case matched != nil:
		// Supplementary groups only in the implicit form, as Docker.
		for _, g := range groups {
			for _, m := range g.members {
				if m == matched.name {
					sgids = append(sgids, g.gid)
					break
				}
			}
		}
	}

	added, err := additionalGroups(groupAdd, groups)
	if err != nil {
		return specs.User{}, "", err
	}
	out := specs.User{UID: uint32(uid), GID: uint32(gid)}
	seen := map[int]bool{}
	for _, g := range append(append([]int{gid}, sgids...), added...) {
		if !seen[g] {
			seen[g] = true
			out.AdditionalGids = append(out.AdditionalGids, uint32(g))
		}
	}
	return out, home, nil
}

// additionalGroups resolves --group-add: names must exist in the group
// file, numbers are taken as they are.
func additionalGroups(names []string, groups []groupEntry) ([]int, error) {
	var out []int
	for _, a := range names {
		id, numeric, err := parseID(a)
		if err != nil {
			return nil, err
		}
		found := false
		for _, g := range groups {
			if numeric && g.gid == id || !numeric && g.name == a {
				if g.gid < 0 || g.gid > math.MaxInt32 {
					return nil, invalid("uids and gids must be in range 0-%d", math.MaxInt32)
				}
				out, found = append(out, g.gid), true
				break
			}
		}
		if !found {
			if !numeric {
				return nil, invalid("unable to find group %s: no matching entries in group file", a)
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// parseID parses a numeric uid or gid; a name is not an error (numeric
// false), a number out of 0..MaxInt32 is.
func parseID(s string) (int, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, true, invalid("uids and gids must be in range 0-%d", math.MaxInt32)
		}
		return 0, false, nil
	}
	if n < 0 || n > math.MaxInt32 {
		return 0, true, invalid("uids and gids must be in range 0-%d", math.MaxInt32)
	}
	return n, true, nil
}

// parsePasswd parses passwd(5) lines: name:password:UID:GID:GECOS:home:shell.
// Malformed numbers read as 0, as in Docker.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	for _, f := range splitLines(data) {
		p := passwdEntry{name: field(f, 0), home: field(f, 5)}
		p.uid, _ = strconv.Atoi(field(f, 2))
		p.gid, _ = strconv.Atoi(field(f, 3))
		out = append(out, p)
	}
	return out
}

// parseGroup parses group(5) lines: name:password:GID:member,member.
func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	for _, f := range splitLines(data) {
		g := groupEntry{name: field(f, 0)}
		g.gid, _ = strconv.Atoi(field(f, 2))
		if m := field(f, 3); m != "" {
			g.members = strings.Split(m, ",")
		}
		out = append(out, g)
	}
	return out
}

func splitLines(data []byte) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxUserFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" {
			out = append(out, strings.Split(line, ":"))
		}
	}
	return out
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// readRootfsFile reads the regular file name of the root filesystem
// rootfs, resolving every component (symlinks and "..") inside rootfs.
// A missing file reads as nil, as in Docker. The file is opened as an
// O_PATH handle first and reopened for reading only if it is a regular
// file, so a device node or fifo in the image is never opened.
func readRootfsFile(rootfs, name string) ([]byte, error) {
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open rootfs %s: %w", rootfs, err)
	}
	defer root.Close()
	h, err := openInRoot(root, name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in the container: %w", name, err)
	}
	defer h.Close()
	st, err := h.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s in the container: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s in the container is not a regular file: %w", name, errdefs.ErrInvalidArgument)
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("open %s in the container: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUserFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s in the container: %w", name, err)
	}
	if len(data) > maxUserFile {
		return nil, fmt.Errorf("%s in the container is larger than %d bytes: %w", name, maxUserFile, errdefs.ErrInvalidArgument)
	}
	return data, nil
}

// openInRoot opens p as an O_PATH handle with the kernel's openat2
// RESOLVE_IN_ROOT, or filepath-securejoin where openat2 is missing.
func openInRoot(root *os.File, p string) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(int(root.Fd()), p, how)
		switch {
		case errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN):
			continue
		case errors.Is(err, unix.ENOSYS):
			return pathrs.OpenatInRoot(root, p)
		case err != nil:
			return nil, &fs.PathError{Op: "openat2", Path: p, Err: err}
		}
		return os.NewFile(uintptr(fd), p), nil
	}
}
