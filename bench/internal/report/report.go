package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteHost writes the first lines of a report's conditions: date (UTC),
// kernel, CPUs and memory, each label ("date:") padded to width. With
// kernelVersion the kernel line has the build string (uname -v) too.
func WriteHost(w io.Writer, width int, kernelVersion bool) {
	Field(w, width, "date:", time.Now().UTC().Format(time.RFC3339))
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		k := unix.ByteSliceToString(u.Release[:])
		if kernelVersion {
			k += " " + unix.ByteSliceToString(u.Version[:])
		}
		Field(w, width, "kernel:", k+" "+unix.ByteSliceToString(u.Machine[:]))
	}
	Field(w, width, "cpu:", fmt.Sprintf("%d online, %s", runtime.NumCPU(), CPUModel()))
	Field(w, width, "memory:", MemTotal())
}

// Field writes one "label: value" line, the label padded to width.
func Field(w io.Writer, width int, label, value string) {
	fmt.Fprintf(w, "%-*s%s\n", width, label, value)
}

// CPUModel is the first "model name" of /proc/cpuinfo.
func CPUModel() string {
	for _, l := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown model"
}

// MemTotal is the first line of /proc/meminfo ("MemTotal: 24683620 kB").
func MemTotal() string {
	return strings.Join(strings.Fields(FirstLine(readFile("/proc/meminfo"))), " ")
}

// LoadAvg is the 1, 5 and 15 minute load averages ("0.52 0.61 0.70").
func LoadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// FSType names the file system path is on.
func FSType(path string) string {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return "?"
	}
	switch st.Type {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("fs magic %#x", st.Type)
}

// VersionOf runs bin with args and returns its output, or a line saying
// why it could not.
func VersionOf(bin string, args ...string) string {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(%s %s: %v)\n", bin, strings.Join(args, " "), err)
	}
	return string(out)
}

// SHA256File is the first 16 hex digits of the SHA-256 of a file's
// content, "?" if it cannot be read.
func SHA256File(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "?"
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "?"
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// FileSize is a file's size in bytes, 0 if it cannot be read.
func FileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// FirstLine is s up to its first newline.
func FirstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Tail is the last n lines of s (without a trailing newline).
func Tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// Indent prefixes every line of s and ends each with a newline.
func Indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
