//go:build linux

package mount

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a list of OCI / mount(8) options split into what the mount
// syscalls need. It is the one parser of mount options in Shoal: the
// runtime and Mount.All both use it.
type Options struct {
	Flags                  uintptr // flags to set
	Clear                  uintptr // flags the options clear explicitly (rw, suid, dev, exec...)
	Propagation            []uintptr
	RecAttrSet, RecAttrClr uint64 // rro, rnosuid... applied with mount_setattr
	Data                   []string
	Bind                   bool
	Recursive              bool
}

var optFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":            {false, unix.MS_RDONLY},
	"rw":            {true, unix.MS_RDONLY},
	"nosuid":        {false, unix.MS_NOSUID},
	"suid":          {true, unix.MS_NOSUID},
	"nodev":         {false, unix.MS_NODEV},
	"dev":           {true, unix.MS_NODEV},
	"noexec":        {false, unix.MS_NOEXEC},
	"exec":          {true, unix.MS_NOEXEC},
	"sync":          {false, unix.MS_SYNCHRONOUS},
	"async":         {true, unix.MS_SYNCHRONOUS},
	"dirsync":       {false, unix.MS_DIRSYNC},
	"remount":       {false, unix.MS_REMOUNT},
	"mand":          {false, unix.MS_MANDLOCK},
	"nomand":        {true, unix.MS_MANDLOCK},
	"atime":         {true, unix.MS_NOATIME},
	"noatime":       {false, unix.MS_NOATIME},
	"diratime":      {true, unix.MS_NODIRATIME},
	"nodiratime":    {false, unix.MS_NODIRATIME},
	"relatime":      {false, unix.MS_RELATIME},
	"norelatime":    {true, unix.MS_RELATIME},
	"strictatime":   {false, unix.MS_STRICTATIME},
	"nostrictatime": {true, unix.MS_STRICTATIME},
	"silent":        {false, unix.MS_SILENT},
	"loud":          {true, unix.MS_SILENT},
}

var propOpts = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

var recAttrOpts = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro":          {false, unix.MOUNT_ATTR_RDONLY},
	"rrw":          {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {false, unix.MOUNT_ATTR_NOSUID},
	"rsuid":        {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {false, unix.MOUNT_ATTR_NODEV},
	"rdev":         {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {false, unix.MOUNT_ATTR_NOEXEC},
	"rexec":        {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {false, unix.MOUNT_ATTR_NODIRATIME},
	"rdiratime":    {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnoatime":     {false, unix.MOUNT_ATTR_NOATIME},
	"rrelatime":    {false, unix.MOUNT_ATTR_RELATIME},
	"rstrictatime": {false, unix.MOUNT_ATTR_STRICTATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW},
	"rsymfollow":   {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

// ParseOptions splits OCI mount options into flags, propagation,
// recursive attributes and filesystem data.
func ParseOptions(opts []string) (Options, error) {
	var m Options
	for _, o := range opts {
		switch o {
		case "bind":
			m.Bind = true
			continue
		case "rbind":
			m.Bind, m.Recursive = true, true
			continue
		case "idmap", "ridmap":
			return m, fmt.Errorf("mount option %q is not supported", o)
		case "tmpcopyup":
			return m, fmt.Errorf("mount option %q is not supported", o)
		}
		if f, ok := optFlags[o]; ok {
			if f.clear {
				m.Flags &^= f.flag
				m.Clear |= f.flag
			} else {
				m.Flags |= f.flag
				m.Clear &^= f.flag
			}
			continue
		}
		if p, ok := propOpts[o]; ok {
			m.Propagation = append(m.Propagation, p)
			continue
		}
		if a, ok := recAttrOpts[o]; ok {
			if a.clear {
				m.RecAttrClr |= a.attr
			} else {
				m.RecAttrSet |= a.attr
			}
			continue
		}
		m.Data = append(m.Data, o)
	}
	return m, nil
}

// DataString is the filesystem data for mount(2).
func (m Options) DataString() string { return strings.Join(m.Data, ",") }

// PropagationFlags are the mount(2) flags of a propagation option
// ("rslave", "private", ...).
func PropagationFlags(name string) (uintptr, bool) {
	f, ok := propOpts[name]
	return f, ok
}

// KnownOptions lists every option ParseOptions understands besides
// filesystem data, for the runtime's `features`.
func KnownOptions() []string {
	out := []string{"bind", "rbind"}
	for o := range optFlags {
		out = append(out, o)
	}
	for o := range propOpts {
		out = append(out, o)
	}
	for o := range recAttrOpts {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}
