package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
)

// defaultConfigFile is read when --config-file is not given; unlike an
// explicit one, it may be missing.
const defaultConfigFile = "/etc/shoal/daemon.json"

// daemonConfig is the daemon's configuration: the flags' values (their
// defaults included) with the config file's merged in.
type daemonConfig struct {
	DataRoot string
	ExecRoot string
	// Hosts are the -H values as given; empty means the default socket
	// (or, with TLS, tcp://localhost:2376, as dockerd).
	Hosts []string
	// Pidfile "" means <exec-root>/shoal.pid.
	Pidfile  string
	LogLevel string
	// TLS asks for TLS on TCP; Shoal accepts it only with TLSVerify, which
	// requires and verifies client certificates against TLSCACert.
	TLS       bool
	TLSVerify bool
	TLSCACert string
	TLSCert   string
	TLSKey    string

	InsecureRegistries []string
	// Runtimes are the runc-compatible runtimes besides Shoal's own, by
	// name.
	Runtimes       map[string]runtimeConfig
	DefaultRuntime string
	DNS            []string
	CgroupParent   string
	Snapshotter    string
	// Bridge and BIP are dockerd's --bridge and --bip.
	Bridge string
	BIP    string
}

// runtimeConfig is one runtime of daemon.json's "runtimes" (dockerd's
// format), or of an --add-runtime NAME=PATH flag.
type runtimeConfig struct {
	Path string   `json:"path"`
	Args []string `json:"runtimeArgs,omitempty"`
	// Type and Options are dockerd's containerd-shim runtimes: refused.
	Type    string         `json:"runtimeType,omitempty"`
	Options map[string]any `json:"options,omitempty"`
}

// daemonJSONKeys maps each daemon.json key Shoal knows to the flag that sets
// the same thing (dockerd's names for both).
var daemonJSONKeys = map[string]string{
	"data-root":           "data-root",
	"exec-root":           "exec-root",
	"hosts":               "host",
	"pidfile":             "pidfile",
	"log-level":           "log-level",
	"tls":                 "tls",
	"tlsverify":           "tlsverify",
	"tlscacert":           "tlscacert",
	"tlscert":             "tlscert",
	"tlskey":              "tlskey",
	"insecure-registries": "insecure-registry",
	"runtimes":            "add-runtime",
	"default-runtime":     "default-runtime",
	"dns":                 "dns",
	"cgroup-parent":       "cgroup-parent",
	"storage-driver":      "snapshotter",
	"bridge":              "bridge",
	"bip":                 "bip",
}

// daemonJSON is daemon.json decoded; which keys are present is read
// separately, so zero values here mean nothing.
type daemonJSON struct {
	DataRoot           string                   `json:"data-root"`
	ExecRoot           string                   `json:"exec-root"`
	Hosts              []string                 `json:"hosts"`
	Pidfile            string                   `json:"pidfile"`
	LogLevel           string                   `json:"log-level"`
	TLS                bool                     `json:"tls"`
	TLSVerify          bool                     `json:"tlsverify"`
	TLSCACert          string                   `json:"tlscacert"`
	TLSCert            string                   `json:"tlscert"`
	TLSKey             string                   `json:"tlskey"`
	InsecureRegistries []string                 `json:"insecure-registries"`
	Runtimes           map[string]runtimeConfig `json:"runtimes"`
	DefaultRuntime     string                   `json:"default-runtime"`
	DNS                []string                 `json:"dns"`
	CgroupParent       string                   `json:"cgroup-parent"`
	StorageDriver      string                   `json:"storage-driver"`
	Bridge             string                   `json:"bridge"`
	BIP                string                   `json:"bip"`
}

// flagLookup reports a flag's value as dockerd prints it in a conflict
// ("[a b]" for lists) and whether the command line set it.
type flagLookup func(name string) (value string, changed bool)

// mergeConfigFile merges the daemon.json at path into cfg, whose values
// came from the flags. As dockerd: a key the command line also sets is an
// error, so is a key Shoal does not know, and so is malformed JSON; a
// missing file is fine unless it was named explicitly. Errors name the
// file.
func mergeConfigFile(cfg *daemonConfig, path string, explicit bool, flags flagLookup) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err == nil {
		err = mergeDaemonJSON(cfg, b, flags)
	}
	if err != nil {
		return fmt.Errorf("unable to configure the daemon with file %s: %w", path, err)
	}
	return nil
}

// mergeDaemonJSON merges the daemon.json document b into cfg. Its messages
// are dockerd's, word for word.
func mergeDaemonJSON(cfg *daemonConfig, b []byte, flags flagLookup) error {
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))) // a UTF-8 byte order mark, as dockerd
	if len(b) == 0 {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	var unknown []string
	for k := range raw {
		if _, ok := daemonJSONKeys[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("the following directives don't match any configuration option: %s", strings.Join(unknown, ", "))
	}
	var conflicts []string
	for _, k := range sortedByFlag(raw) {
		v, changed := flags(daemonJSONKeys[k])
		if !changed {
			continue
		}
		var file any
		_ = json.Unmarshal(raw[k], &file) // valid: it came out of the document
		conflicts = append(conflicts, fmt.Sprintf("%s: (from flag: %s, from file: %v)", k, v, file))
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("the following directives are specified both as a flag and in the configuration file: %s", strings.Join(conflicts, ", "))
	}
	var fc daemonJSON
	if err := json.Unmarshal(b, &fc); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	for k := range raw {
		switch k {
		case "data-root":
			cfg.DataRoot = fc.DataRoot
		case "exec-root":
			cfg.ExecRoot = fc.ExecRoot
		case "hosts":
			cfg.Hosts = fc.Hosts
		case "pidfile":
			cfg.Pidfile = fc.Pidfile
		case "log-level":
			cfg.LogLevel = fc.LogLevel
		case "tls":
			cfg.TLS = fc.TLS
		case "tlsverify":
			cfg.TLSVerify = fc.TLSVerify
		case "tlscacert":
			cfg.TLSCACert = fc.TLSCACert
		case "tlscert":
			cfg.TLSCert = fc.TLSCert
		case "tlskey":
			cfg.TLSKey = fc.TLSKey
		case "insecure-registries":
			cfg.InsecureRegistries = fc.InsecureRegistries
		case "runtimes":
			cfg.Runtimes = fc.Runtimes
		case "default-runtime":
			cfg.DefaultRuntime = fc.DefaultRuntime
		case "dns":
			cfg.DNS = fc.DNS
		case "cgroup-parent":
			cfg.CgroupParent = fc.CgroupParent
		case "storage-driver":
			cfg.Snapshotter = snapshotterFor(fc.StorageDriver)
		case "bridge":
			cfg.Bridge = fc.Bridge
		case "bip":
			cfg.BIP = fc.BIP
		}
	}
	return nil
}

// sortedByFlag lists the keys in the order of their flags' names, the
// order dockerd reports conflicts in.
func sortedByFlag(raw map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return daemonJSONKeys[keys[i]] < daemonJSONKeys[keys[j]] })
	return keys
}

// snapshotterFor maps dockerd's storage drivers to Shoal's snapshotters,
// so a daemon.json written for dockerd works: overlay2 is overlay, vfs
// copies as native does. Other names go through and are refused (or
// accepted) by the image service.
func snapshotterFor(driver string) string {
	switch driver {
	case "overlay2":
		return "overlay"
	case "vfs":
		return "native"
	}
	return driver
}

// parseRuntimeFlags reads --add-runtime NAME=PATH values.
func parseRuntimeFlags(flags []string) (map[string]runtimeConfig, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]runtimeConfig{}
	for _, r := range flags {
		name, path, ok := strings.Cut(r, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--add-runtime %q: want NAME=PATH", r)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--add-runtime %q: runtime %s given twice", r, name)
		}
		out[name] = runtimeConfig{Path: path}
	}
	return out, nil
}

// validate checks what can be checked without touching the host.
func (c *daemonConfig) validate() error {
	if _, err := daemonLogLevel(c.LogLevel); err != nil {
		return err
	}
	names := make([]string, 0, len(c.Runtimes))
	for name := range c.Runtimes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		r := c.Runtimes[name]
		switch {
		case name == "shoal":
			return fmt.Errorf("runtime %s: the name shoal is Shoal's own runtime", name)
		case r.Type != "" || len(r.Options) > 0:
			return fmt.Errorf("runtime %s: runtimeType and options (containerd shims) are not supported: give the path of a runc-compatible binary", name)
		case r.Path == "":
			return fmt.Errorf("runtime %s: no path", name)
		}
	}
	return nil
}

// daemonLogLevel reads dockerd's log levels (trace and fatal/panic fold
// into slog's debug and error).
func daemonLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "trace", "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal", "panic":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("invalid logging level: %s", s)
}
