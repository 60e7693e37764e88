package volume

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	units "github.com/docker/go-units"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// The local driver's options (docker volume create --opt KEY=VALUE).
const (
	optType   = "type"   // filesystem type: tmpfs, none/bind (with o=bind), ext4, ...
	optDevice = "device" // what to mount: "tmpfs", a host directory, a block device
	optO      = "o"      // mount(8)-style options, comma-separated
	optSize   = "size"   // quota size; refused (no quota support)
)

// mandatoryOpts is Docker's: each option, when given, needs the others.
// Keys are checked in sorted order so the error is deterministic.
var mandatoryOpts = map[string][]string{
	optDevice: {optType},
	optO:      {optDevice, optType},
	optType:   {optDevice},
}

// networkTypes are filesystems that reach the network; option volumes of
// these types are refused.
var networkTypes = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb": true, "smb3": true, "smbfs": true,
	"ceph": true, "glusterfs": true, "9p": true, "afs": true, "ncpfs": true,
	"lustre": true, "gfs2": true, "ocfs2": true, "sshfs": true, "davfs": true,
}

// validateOptions checks local driver options as Docker does (unknown
// keys, mandatory companions, size) and then Shoal's limit: only tmpfs,
// bind mounts and filesystems on a local block device. Errors are of
// class errdefs.ErrInvalidArgument.
func validateOptions(opts map[string]string) error {
	if len(opts) == 0 {
		return nil
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case optType, optDevice, optO, optSize:
		default:
			return invalidf("invalid option: %q", k)
		}
	}
	if v, ok := opts[optSize]; ok {
		n, err := units.RAMInBytes(v)
		if err != nil {
			return &classError{msg: err.Error(), class: errdefs.ErrInvalidArgument}
		}
		if n > 0 {
			return invalidf("quota size requested but no quota support")
		}
	}
	for _, k := range keys {
		for _, req := range mandatoryOpts[k] {
			if _, ok := opts[req]; !ok {
				return invalidf("missing required option: %q", req)
			}
		}
	}
	if !needsMount(opts) {
		return nil
	}
	typ, dev, o := opts[optType], opts[optDevice], opts[optO]
	if typ == "" || dev == "" {
		return invalidf("volume options type and device must not be empty")
	}
	bind, err := parseMountOptions(o)
	if err != nil {
		return err
	}
	switch {
	case typ == "tmpfs":
		if bind {
			return invalidf("volume option o=%q: bind is not valid with type=tmpfs", o)
		}
	case typ == "none" || typ == "bind":
		if !bind {
			return invalidf("volume option type=%s needs o=bind (or rbind)", typ)
		}
		if !filepath.IsAbs(dev) {
			return invalidf("volume option device=%q: a bind mount needs an absolute host path", dev)
		}
	case networkTypes[typ] || strings.HasPrefix(typ, "fuse"):
		return invalidf("volume type %q is not supported: only tmpfs, bind (type=none, o=bind) and filesystems on a local block device are", typ)
	default:
		if bind {
			return invalidf("volume option o=%q: bind needs type=none", o)
		}
		fi, err := os.Stat(dev)
		if err != nil || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
			return invalidf("volume option device=%q is not a block device: type %q needs one (or use type=tmpfs, or type=none with o=bind)", dev, typ)
		}
	}
	return nil
}

// needsMount reports whether a volume with opts is mounted on first use,
// as Docker's localVolume.needsMount.
func needsMount(opts map[string]string) bool {
	return opts[optType] != "" || opts[optDevice] != ""
}

// splitMountOptions splits the o option into mount options.
func splitMountOptions(o string) []string {
	if o == "" {
		return nil
	}
	var out []string
	for _, s := range strings.Split(o, ",") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
