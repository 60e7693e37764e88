package containerfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// maxIDFile bounds how much of a container's /etc/passwd or /etc/group is
// read.
const maxIDFile = 4 << 20

// lookupUser resolves a container's configured user ("user[:group]", each
// a name or a numeric ID) to a uid and gid with the container's
// /etc/passwd and /etc/group, as Docker's getUIDGID does: a numeric user
// missing from /etc/passwd keeps gid 0, an empty part means root.
func lookupUser(root *os.File, spec string) (uid, gid int, err error) {
	userPart, groupPart, _ := strings.Cut(spec, ":")
	if userPart != "" {
		id, isID := parseID(userPart)
		u, found, err := findEntry(root, "etc/passwd", func(f []string) bool {
			if len(f) < 4 {
				return false
			}
			if isID {
				n, ok := parseID(f[2])
				return ok && n == id
			}
			return f[0] == userPart
		})
		switch {
		case err != nil:
			return 0, 0, err
		case found:
			uid, _ = parseID(u[2])
			gid, _ = parseID(u[3])
		case isID:
			uid = id
		default:
			return 0, 0, fmt.Errorf("failed to look up user %q in container: no matching entries in passwd file: %w", userPart, errdefs.ErrInvalidArgument)
		}
	}
	if groupPart != "" {
		id, isID := parseID(groupPart)
		if isID {
			return uid, id, nil
		}
		g, found, err := findEntry(root, "etc/group", func(f []string) bool {
			return len(f) >= 3 && f[0] == groupPart
		})
		if err != nil {
			return 0, 0, err
		}
		if !found {
			return 0, 0, fmt.Errorf("failed to look up group %q in container: no matching entries in group file: %w", groupPart, errdefs.ErrInvalidArgument)
		}
		gid, _ = parseID(g[2])
	}
	return uid, gid, nil
}

// parseID parses a 32-bit ID as Docker does (at most MaxInt32).
func parseID(s string) (int, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// findEntry returns the colon-separated fields of the first line of the
// container file rel that match accepts. A missing file has no entries.
func findEntry(root *os.File, rel string, match func([]string) bool) ([]string, bool, error) {
	data, err := readFileInRoot(root, rel)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxIDFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Split(line, ":"); match(f) {
			return f, true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("read /%s in container: %w", rel, err)
	}
	return nil, false, nil
}

// readFileInRoot reads a regular file of the container, resolved inside
// root. Anything but a regular file (a FIFO, a device) is refused before it
// is opened for reading.
func readFileInRoot(root *os.File, rel string) ([]byte, error) {
	h, err := openInRoot(root, rel)
	if err != nil {
		return nil, fmt.Errorf("open /%s in container: %w", rel, classify(err))
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return nil, fmt.Errorf("stat /%s in container: %w", rel, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("/%s in container is not a regular file: %w", rel, errdefs.ErrInvalidArgument)
	}
	f, err := reopen(h, unix.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("open /%s in container: %w", rel, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIDFile))
	if err != nil {
		return nil, fmt.Errorf("read /%s in container: %w", rel, err)
	}
	return data, nil
}
