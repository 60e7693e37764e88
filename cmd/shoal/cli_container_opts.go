package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// Flag value types with the docker CLI's names in --help ("list", "map",
// "bytes", ...).

// listValue is a repeatable flag: each use appends (no comma splitting).
type listValue struct {
	v        *[]string
	validate func(string) (string, error)
}

func newList(v *[]string) *listValue { return &listValue{v: v} }

func (l *listValue) String() string {
	if l.v == nil || len(*l.v) == 0 {
		return ""
	}
	return "[" + strings.Join(*l.v, " ") + "]"
}

func (l *listValue) Set(s string) error {
	if l.validate != nil {
		var err error
		if s, err = l.validate(s); err != nil {
			return err
		}
	}
	*l.v = append(*l.v, s)
	return nil
}

func (l *listValue) Type() string { return "list" }

// mapValue is a repeatable KEY=VALUE flag.
type mapValue struct{ m map[string]string }

func (m *mapValue) String() string {
	if len(m.m) == 0 {
		return "map[]"
	}
	return fmt.Sprint(m.m)
}

func (m *mapValue) Set(s string) error {
	k, v, _ := strings.Cut(s, "=")
	if m.m == nil {
		m.m = map[string]string{}
	}
	m.m[k] = v
	return nil
}

func (m *mapValue) Type() string { return "map" }

// bytesValue is a size: "512m", "1g", or a number of bytes. swap also
// takes -1 (unlimited).
type bytesValue struct {
	n    int64
	swap bool
}

func (b *bytesValue) String() string {
	if b.n == 0 {
		return "0"
	}
	return strconv.FormatInt(b.n, 10)
}

func (b *bytesValue) Set(s string) error {
	if b.swap && s == "-1" {
		b.n = -1
		return nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return err
	}
	b.n = n
	return nil
}

func (b *bytesValue) Type() string { return "bytes" }

// nanoCPUs is --cpus: a decimal number of CPUs, sent in billionths.
type nanoCPUs int64

func (n *nanoCPUs) String() string {
	if *n == 0 {
		return ""
	}
	return big.NewRat(int64(*n), 1e9).FloatString(3)
}

func (n *nanoCPUs) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", s)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	*n = nanoCPUs(nano.Num().Int64())
	return nil
}

func (n *nanoCPUs) Type() string { return "decimal" }

// ulimitValue is a repeatable --ulimit NAME=SOFT[:HARD].
type ulimitValue struct{ list []*container.Ulimit }

func (u *ulimitValue) String() string {
	var s []string
	for _, l := range u.list {
		s = append(s, l.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (u *ulimitValue) Set(s string) error {
	l, err := units.ParseUlimit(s)
	if err != nil {
		return err
	}
	for i, old := range u.list {
		if old.Name == l.Name {
			u.list[i] = l
			return nil
		}
	}
	u.list = append(u.list, l)
	return nil
}

func (u *ulimitValue) Type() string { return "ulimit" }

// mountValue is a repeatable --mount type=...,source=...,target=....
type mountValue struct{ mounts []mount.Mount }

func (m *mountValue) String() string { return "" }
func (m *mountValue) Type() string   { return "mount" }

func (m *mountValue) Set(s string) error {
	mt, err := parseMount(s)
	if err != nil {
		return err
	}
	m.mounts = append(m.mounts, mt)
	return nil
}

// parseMount reads --mount's comma-separated KEY=VALUE fields.
func parseMount(s string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, err
	}
	m := mount.Mount{Type: mount.TypeVolume}
	var (
		bind   mount.BindOptions
		vol    mount.VolumeOptions
		tmpfs  mount.TmpfsOptions
		hasB   bool
		hasV   bool
		hasT   bool
		driver mount.Driver
	)
	setBool := func(key, val string) (bool, error) {
		if val == "" {
			return true, nil
		}
		b, err := strconv.ParseBool(val)
		if err != nil {
			return false, fmt.Errorf("invalid value for %s: %s", key, val)
		}
		return b, nil
	}
	for _, f := range fields {
		key, val, hasVal := strings.Cut(f, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !hasVal {
			switch key {
			case "readonly", "ro", "volume-nocopy", "bind-nonrecursive", "bind-create-mountpoint":
			default:
				return m, fmt.Errorf("invalid field '%s' must be a key=value pair", f)
			}
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			if m.ReadOnly, err = setBool(key, val); err != nil {
				return m, err
			}
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			hasB = true
			bind.Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			hasB = true
			if bind.NonRecursive, err = setBool(key, val); err != nil {
				return m, err
			}
		case "bind-create-mountpoint":
			hasB = true
			if bind.CreateMountpoint, err = setBool(key, val); err != nil {
				return m, err
			}
		case "bind-recursive":
			hasB = true
			switch val {
			case "enabled":
			case "disabled":
				bind.NonRecursive = true
			case "writable":
				bind.ReadOnlyNonRecursive = true
			case "readonly":
				bind.ReadOnlyForceRecursive = true
			default:
				return m, fmt.Errorf("invalid value for %s: %s (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")", key, val)
			}
		case "volume-nocopy":
			hasV = true
			if vol.NoCopy, err = setBool(key, val); err != nil {
				return m, err
			}
		case "volume-subpath":
			hasV = true
			vol.Subpath = val
		case "volume-label":
			hasV = true
			k, v, _ := strings.Cut(val, "=")
			if vol.Labels == nil {
				vol.Labels = map[string]string{}
			}
			vol.Labels[k] = v
		case "volume-driver":
			hasV = true
			driver.Name = val
		case "volume-opt":
			hasV = true
			k, v, _ := strings.Cut(val, "=")
			if driver.Options == nil {
				driver.Options = map[string]string{}
			}
			driver.Options[k] = v
		case "tmpfs-size":
			hasT = true
			n, err := units.RAMInBytes(val)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfs.SizeBytes = n
		case "tmpfs-mode":
			hasT = true
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return m, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfs.Mode = os.FileMode(n)
		default:
			return m, fmt.Errorf("unexpected key '%s' in '%s'", key, f)
		}
	}
	if m.Target == "" {
		return m, errors.New("target is required")
	}
	if driver.Name != "" || driver.Options != nil {
		vol.DriverConfig = &driver
	}
	switch m.Type {
	case mount.TypeBind:
		if hasV || hasT {
			return m, fmt.Errorf("cannot mix 'volume-*' or 'tmpfs-*' options with mount type '%s'", m.Type)
		}
		if hasB {
			m.BindOptions = &bind
		}
	case mount.TypeVolume:
		if hasB || hasT {
			return m, fmt.Errorf("cannot mix 'bind-*' or 'tmpfs-*' options with mount type '%s'", m.Type)
		}
		if hasV {
			m.VolumeOptions = &vol
		}
	case mount.TypeTmpfs:
		if hasB || hasV {
			return m, fmt.Errorf("cannot mix 'bind-*' or 'volume-*' options with mount type '%s'", m.Type)
		}
		if hasT {
			m.TmpfsOptions = &tmpfs
		}
	}
	return m, nil
}

// containerOptions are the flags run and create share.
type containerOptions struct {
	attach, capAdd, capDrop, devices, deviceCgroupRules, dns, dnsOptions, dnsSearch []string
	env, envFile, expose, groupAdd, labels, labelFile, logOpts, publish             []string
	securityOpt, storageOpt, tmpfs, volumes, volumesFrom, extraHosts                []string

	annotations, sysctls mapValue
	ulimits              ulimitValue
	mounts               mountValue
	memory, memoryRes    bytesValue
	memorySwap           bytesValue
	shmSize              bytesValue
	cpus                 nanoCPUs

	blkioWeight                                  uint16
	cpuShares, cpuPeriod, cpuQuota, cpuRtPeriod  int64
	cpuRtRuntime, swappiness, pidsLimit          int64
	oomScoreAdj, stopTimeout, healthRetries      int
	cgroupParent, cgroupns, cidfile, cpusetCpus  string
	cpusetMems, domainname, entrypoint, hostname string
	ipc, logDriver, name, pid, platform          string
	restart, runtime, stopSignal, user, userns   string
	uts, workdir, healthCmd, volumeDriver, pull  string

	healthInterval, healthTimeout, healthStartPeriod, healthStartInterval time.Duration

	detach, interactive, tty, rm, init, noHealthcheck, oomKillDisable bool
	privileged, publishAll, readOnly, quiet, sigProxy                 bool

	// The network flags: see cli_network.go.
	netOpt                 networkOpt
	aliases, links         []string
	ipv4, ipv6, macAddress string

	unsupported unsupported
}

// addFlags declares the run/create flags on fs; run adds -d, --rm's
// attach handling and --sig-proxy itself.
func (o *containerOptions) addFlags(fs *pflag.FlagSet) {
	fs.SetInterspersed(false) // flags after IMAGE belong to the command
	// -h is --hostname: help has no shorthand.
	fs.Bool("help", false, "Print usage")
	list := func(v *[]string, name, short, usage string) *listValue {
		l := newList(v)
		fs.VarP(l, name, short, usage)
		return l
	}
	list(&o.extraHosts, "add-host", "", "Add a custom host-to-IP mapping (host:ip)").validate = validateExtraHost
	fs.Var(&o.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	list(&o.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR").validate = func(s string) (string, error) {
		switch l := strings.ToLower(s); l {
		case "stdin", "stdout", "stderr":
			return l, nil
		}
		return s, errors.New("valid streams are STDIN, STDOUT and STDERR")
	}
	fs.Uint16Var(&o.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable")
	list(&o.capAdd, "cap-add", "", "Add Linux capabilities")
	list(&o.capDrop, "cap-drop", "", "Drop Linux capabilities")
	fs.StringVar(&o.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.StringVar(&o.cgroupns, "cgroupns", "", "Cgroup namespace to use (host|private)")
	fs.StringVar(&o.cidfile, "cidfile", "", "Write the container ID to the file")
	fs.Int64Var(&o.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&o.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.Int64Var(&o.cpuRtPeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	fs.Int64Var(&o.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	fs.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Var(&o.cpus, "cpus", "Number of CPUs")
	fs.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&o.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	list(&o.devices, "device", "", "Add a host device to the container")
	list(&o.deviceCgroupRules, "device-cgroup-rule", "", "Add a rule to the cgroup allowed devices list")
	list(&o.dns, "dns", "", "Set custom DNS servers").validate = validateDNS
	list(&o.dnsOptions, "dns-opt", "", "Set DNS options")
	_ = fs.MarkHidden("dns-opt")
	list(&o.dnsOptions, "dns-option", "", "Set DNS options")
	list(&o.dnsSearch, "dns-search", "", "Set custom DNS search domains").validate = validateDNSSearch
	fs.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	list(&o.env, "env", "e", "Set environment variables").validate = validateEnv
	list(&o.envFile, "env-file", "", "Read in a file of environment variables")
	list(&o.expose, "expose", "", "Expose a port or a range of ports")
	list(&o.groupAdd, "group-add", "", "Add additional groups to join")
	fs.StringVar(&o.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&o.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.IntVar(&o.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.DurationVar(&o.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.DurationVar(&o.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&o.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fs.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.StringVar(&o.ipv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&o.ipv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fs.StringVar(&o.ipc, "ipc", "", "IPC mode to use")
	list(&o.labels, "label", "l", "Set meta data on a container")
	list(&o.labelFile, "label-file", "", "Read in a line delimited file of labels")
	list(&o.links, "link", "", "Add link to another container").validate = validateLink
	fs.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	list(&o.logOpts, "log-opt", "", "Log driver options")
	fs.VarP(&o.memory, "memory", "m", "Memory limit")
	fs.Var(&o.memoryRes, "memory-reservation", "Memory soft limit")
	o.memorySwap.swap = true
	fs.Var(&o.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.Int64Var(&o.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fs.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.Var(&o.mounts, "mount", "Attach a filesystem mount to the container")
	fs.StringVar(&o.name, "name", "", "Assign a name to the container")
	fs.Var(&o.netOpt, "net", "Connect a container to a network")
	_ = fs.MarkHidden("net")
	fs.Var(&o.netOpt, "network", "Connect a container to a network")
	list(&o.aliases, "net-alias", "", "Add network-scoped alias for the container")
	_ = fs.MarkHidden("net-alias")
	list(&o.aliases, "network-alias", "", "Add network-scoped alias for the container")
	fs.BoolVar(&o.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	fs.BoolVar(&o.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fs.IntVar(&o.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.StringVar(&o.pid, "pid", "", "PID namespace to use")
	fs.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	list(&o.publish, "publish", "p", "Publish a container's port(s) to the host")
	fs.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringVar(&o.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	fs.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	list(&o.securityOpt, "security-opt", "", "Security Options")
	fs.Var(&o.shmSize, "shm-size", "Size of /dev/shm")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	list(&o.storageOpt, "storage-opt", "", "Storage driver options for the container")
	fs.Var(&o.sysctls, "sysctl", "Sysctl options")
	list(&o.tmpfs, "tmpfs", "", "Mount a tmpfs directory")
	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.Var(&o.ulimits, "ulimit", "Ulimit options")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&o.userns, "userns", "", "User namespace to use")
	fs.StringVar(&o.uts, "uts", "", "UTS namespace to use")
	list(&o.volumes, "volume", "v", "Bind mount a volume")
	fs.StringVar(&o.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	list(&o.volumesFrom, "volumes-from", "", "Mount volumes from the specified container(s)")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")

	u := &o.unsupported
	u.add(fs, "blkio-weight-device", "", "list", "Block IO weight (relative device weight)")
	u.add(fs, "cpu-count", "", "int", "CPU count (Windows only)")
	u.add(fs, "cpu-percent", "", "int", "CPU percent (Windows only)")
	u.add(fs, "detach-keys", "", "string", "Override the key sequence for detaching a container")
	u.add(fs, "device-read-bps", "", "list", "Limit read rate (bytes per second) from a device")
	u.add(fs, "device-read-iops", "", "list", "Limit read rate (IO per second) from a device")
	u.add(fs, "device-write-bps", "", "list", "Limit write rate (bytes per second) to a device")
	u.add(fs, "device-write-iops", "", "list", "Limit write rate (IO per second) to a device")
	u.add(fs, "gpus", "", "gpu-request", "GPU devices to add to the container ('all' to pass all GPUs)")
	u.add(fs, "io-maxbandwidth", "", "bytes", "Maximum IO bandwidth limit for the system drive (Windows only)")
	u.add(fs, "io-maxiops", "", "uint", "Maximum IOps limit for the system drive (Windows only)")
	u.add(fs, "isolation", "", "string", "Container isolation technology")
	u.add(fs, "kernel-memory", "", "bytes", "Kernel memory limit")
	u.add(fs, "link-local-ip", "", "list", "Container IPv4/IPv6 link-local addresses")
	u.add(fs, "use-api-socket", "", "bool", "Bind mount Docker API socket and required auth")
	// Content trust is off in Shoal, as it is by default in Docker:
	// --disable-content-trust (=true) changes nothing.
	fs.Bool("disable-content-trust", true, "Skip image verification")
}

// validateEnv is -e's check: KEY=VALUE, or KEY to pass the variable on
// from this environment.
func validateEnv(s string) (string, error) {
	k, _, hasValue := strings.Cut(s, "=")
	if k == "" {
		return "", errors.New("invalid environment variable: " + s)
	}
	if hasValue {
		return s, nil
	}
	if v, ok := os.LookupEnv(k); ok {
		return k + "=" + v, nil
	}
	return s, nil
}

// readKVFile reads an --env-file or --label-file: KEY=VALUE lines,
// comments and blank lines skipped; a bare KEY takes its value from
// lookup (nil: dropped).
func readKVFile(name string, lookup func(string) (string, bool)) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		if !utf8.Valid(sc.Bytes()) {
			return nil, fmt.Errorf("invalid env file (%s): invalid utf8 bytes at line %d", name, n)
		}
		line := strings.TrimLeftFunc(sc.Text(), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		k, _, hasValue := strings.Cut(line, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid env file (%s): no variable name on line '%s'", name, line)
		}
		if strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("invalid env file (%s): variable '%s' contains whitespaces", name, k)
		}
		if hasValue {
			out = append(out, line)
		} else if lookup != nil {
			if v, ok := lookup(line); ok {
				out = append(out, k+"="+v)
			}
		}
	}
	return out, sc.Err()
}

// containerConfig is what POST /containers/create takes.
type containerConfig = container.CreateRequest

// parse builds the create request for image and its command args.
func (o *containerOptions) parse(fs *pflag.FlagSet, image string, args []string) (*containerConfig, error) {
	if err := o.unsupported.check(fs); err != nil {
		return nil, err
	}
	if !fs.Changed("disable-content-trust") {
	} else if v, _ := fs.GetBool("disable-content-trust"); !v {
		return nil, errors.New("content trust is not supported by shoal: --disable-content-trust=false")
	}
	if o.macAddress != "" {
		if _, err := validateMAC(o.macAddress); err != nil {
			return nil, err
		}
	}
	switch o.pull {
	case "always", "missing", "never":
	default:
		return nil, fmt.Errorf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", o.pull)
	}
	attachStdin, attachStdout, attachStderr := false, false, false
	for _, a := range o.attach {
		switch a {
		case "stdin":
			attachStdin = true
		case "stdout":
			attachStdout = true
		case "stderr":
			attachStderr = true
		}
	}
	if o.interactive {
		attachStdin = true
	}
	if len(o.attach) == 0 {
		attachStdout, attachStderr = true, true
	}
	if o.swappiness != -1 && (o.swappiness < 0 || o.swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", o.swappiness)
	}

	// -v: a source makes a bind (or named volume), none an anonymous
	// volume.
	var binds []string
	volumes := map[string]struct{}{}
	for _, v := range o.volumes {
		parts := strings.Split(v, ":")
		switch len(parts) {
		case 1:
			if !path.IsAbs(parts[0]) {
				return nil, fmt.Errorf("invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", v, parts[0])
			}
			volumes[parts[0]] = struct{}{}
		case 2, 3:
			if parts[0] == "" || parts[1] == "" {
				return nil, fmt.Errorf("invalid volume specification: '%s'", v)
			}
			if !path.IsAbs(parts[1]) {
				return nil, fmt.Errorf("invalid volume specification: '%s': invalid mount config for type \"bind\": invalid mount path: '%s' mount path must be absolute", v, parts[1])
			}
			host := parts[0]
			if strings.HasPrefix(host, ".") {
				if abs, err := filepath.Abs(host); err == nil {
					host = abs
				}
			}
			parts[0] = host
			binds = append(binds, strings.Join(parts, ":"))
		default:
			return nil, fmt.Errorf("invalid volume specification: '%s'", v)
		}
	}

	tmpfs := map[string]string{}
	for _, t := range o.tmpfs {
		k, v, _ := strings.Cut(t, ":")
		if !path.IsAbs(k) {
			return nil, fmt.Errorf("invalid tmpfs specification: %s is not an absolute path", k)
		}
		tmpfs[k] = v
	}

	var entrypoint []string
	if o.entrypoint != "" {
		entrypoint = []string{o.entrypoint}
	} else if fs.Changed("entrypoint") {
		entrypoint = []string{""}
	}

	exposed, bindings, err := parsePorts(o.publish, o.expose)
	if err != nil {
		return nil, err
	}

	devices := make([]container.DeviceMapping, 0, len(o.devices))
	for _, d := range o.devices {
		dm, err := parseDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, dm)
	}

	env := []string{}
	for _, f := range o.envFile {
		vars, err := readKVFile(f, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		env = append(env, vars...)
	}
	env = append(env, o.env...)
	var labelList []string
	for _, f := range o.labelFile {
		vars, err := readKVFile(f, nil)
		if err != nil {
			return nil, fmt.Errorf("--label-file: %w", err)
		}
		labelList = append(labelList, vars...)
	}
	labelList = append(labelList, o.labels...)
	labels := map[string]string{}
	for _, l := range labelList {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}

	pidMode := container.PidMode(o.pid)
	if !pidMode.Valid() {
		return nil, errors.New("--pid: invalid PID mode")
	}
	utsMode := container.UTSMode(o.uts)
	if !utsMode.Valid() {
		return nil, errors.New("--uts: invalid UTS mode")
	}
	usernsMode := container.UsernsMode(o.userns)
	if !usernsMode.Valid() {
		return nil, errors.New("--userns: invalid USER mode")
	}
	cgroupnsMode := container.CgroupnsMode(o.cgroupns)
	if !cgroupnsMode.Valid() {
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}
	restart, err := parseRestartPolicy(o.restart)
	if err != nil {
		return nil, err
	}
	logOpts := map[string]string{}
	for _, l := range o.logOpts {
		k, v, _ := strings.Cut(l, "=")
		logOpts[k] = v
	}
	if o.logDriver == "none" && len(o.logOpts) > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", o.logDriver)
	}
	secOpts, masked, readonly, err := parseSecurityOpts(o.securityOpt)
	if err != nil {
		return nil, err
	}
	var storageOpts map[string]string
	for _, s := range o.storageOpt {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		if storageOpts == nil {
			storageOpts = map[string]string{}
		}
		storageOpts[k] = v
	}

	health, err := o.healthConfig()
	if err != nil {
		return nil, err
	}

	dns := []netip.Addr{}
	for _, d := range o.dns {
		if a, err := netip.ParseAddr(d); err == nil {
			dns = append(dns, a)
		}
	}

	swappiness, pids, oomKill := o.swappiness, o.pidsLimit, o.oomKillDisable
	res := container.Resources{
		CgroupParent:       o.cgroupParent,
		Memory:             o.memory.n,
		MemoryReservation:  o.memoryRes.n,
		MemorySwap:         o.memorySwap.n,
		MemorySwappiness:   &swappiness,
		OomKillDisable:     &oomKill,
		NanoCPUs:           int64(o.cpus),
		CPUShares:          o.cpuShares,
		CPUPeriod:          o.cpuPeriod,
		CPUQuota:           o.cpuQuota,
		CPURealtimePeriod:  o.cpuRtPeriod,
		CPURealtimeRuntime: o.cpuRtRuntime,
		CpusetCpus:         o.cpusetCpus,
		CpusetMems:         o.cpusetMems,
		BlkioWeight:        o.blkioWeight,
		PidsLimit:          &pids,
		Ulimits:            o.ulimits.list,
		DeviceCgroupRules:  o.deviceCgroupRules,
		Devices:            devices,
	}
	if res.Ulimits == nil {
		res.Ulimits = []*container.Ulimit{}
	}

	cfg := &container.Config{
		Hostname:     o.hostname,
		Domainname:   o.domainname,
		ExposedPorts: exposed,
		User:         o.user,
		Tty:          o.tty,
		OpenStdin:    o.interactive,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		Env:          env,
		Cmd:          args,
		Image:        image,
		Volumes:      volumes,
		Entrypoint:   entrypoint,
		WorkingDir:   o.workdir,
		Labels:       labels,
		StopSignal:   o.stopSignal,
		Healthcheck:  health,
	}
	if len(args) == 0 {
		cfg.Cmd = nil
	}
	if fs.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	if cfg.OpenStdin && cfg.AttachStdin {
		cfg.StdinOnce = true
	}

	hc := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: o.cidfile,
		OomScoreAdj:     o.oomScoreAdj,
		AutoRemove:      o.rm,
		Privileged:      o.privileged,
		PortBindings:    bindings,
		PublishAllPorts: o.publishAll,
		DNS:             dns,
		DNSSearch:       orEmpty(o.dnsSearch),
		DNSOptions:      orEmpty(o.dnsOptions),
		ExtraHosts:      o.extraHosts,
		VolumesFrom:     o.volumesFrom,
		IpcMode:         container.IpcMode(o.ipc),
		NetworkMode:     container.NetworkMode(o.netOpt.mode()),
		Links:           o.links,
		PidMode:         pidMode,
		UTSMode:         utsMode,
		UsernsMode:      usernsMode,
		CgroupnsMode:    cgroupnsMode,
		CapAdd:          o.capAdd,
		CapDrop:         o.capDrop,
		GroupAdd:        o.groupAdd,
		RestartPolicy:   restart,
		SecurityOpt:     secOpts,
		StorageOpt:      storageOpts,
		ReadonlyRootfs:  o.readOnly,
		LogConfig:       container.LogConfig{Type: o.logDriver, Config: logOpts},
		VolumeDriver:    o.volumeDriver,
		ShmSize:         o.shmSize.n,
		Resources:       res,
		Tmpfs:           tmpfs,
		Sysctls:         o.sysctls.m,
		Runtime:         o.runtime,
		Mounts:          o.mounts.mounts,
		MaskedPaths:     masked,
		ReadonlyPaths:   readonly,
		Annotations:     o.annotations.m,
	}
	for i, h := range hc.ExtraHosts {
		// host=ip is accepted as well as host:ip.
		if k, v, ok := strings.Cut(h, "="); ok {
			hc.ExtraHosts[i] = k + ":" + v
		}
	}
	if o.rm && restart.Name != "" && restart.Name != container.RestartPolicyDisabled {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	if fs.Changed("init") {
		init := o.init
		hc.Init = &init
	}
	eps, err := o.endpointsConfig()
	if err != nil {
		return nil, err
	}
	return &containerConfig{Config: cfg, HostConfig: hc, NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: eps}}, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (o *containerOptions) healthConfig() (*container.HealthConfig, error) {
	have := o.healthCmd != "" || o.healthInterval != 0 || o.healthTimeout != 0 ||
		o.healthStartPeriod != 0 || o.healthRetries != 0 || o.healthStartInterval != 0
	if o.noHealthcheck {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	for _, c := range []struct {
		name string
		neg  bool
	}{
		{"--health-interval", o.healthInterval < 0},
		{"--health-timeout", o.healthTimeout < 0},
		{"--health-retries", o.healthRetries < 0},
		{"--health-start-period", o.healthStartPeriod < 0},
		{"--health-start-interval", o.healthStartInterval < 0},
	} {
		if c.neg {
			return nil, fmt.Errorf("%s cannot be negative", c.name)
		}
	}
	var test []string
	if o.healthCmd != "" {
		test = []string{"CMD-SHELL", o.healthCmd}
	}
	return &container.HealthConfig{
		Test: test, Interval: o.healthInterval, Timeout: o.healthTimeout,
		StartPeriod: o.healthStartPeriod, StartInterval: o.healthStartInterval, Retries: o.healthRetries,
	}, nil
}

// parseRestartPolicy reads --restart: no, always, unless-stopped,
// on-failure[:N].
func parseRestartPolicy(s string) (container.RestartPolicy, error) {
	if s == "" {
		return container.RestartPolicy{}, nil
	}
	name, count, ok := strings.Cut(s, ":")
	if ok && name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	return p, nil
}

// parseSecurityOpts checks --security-opt and inlines a seccomp profile
// file; systempaths=unconfined becomes empty masked and read-only path
// lists.
func parseSecurityOpts(opts []string) (out, masked, readonly []string, err error) {
	for _, opt := range opts {
		if opt == "systempaths=unconfined" {
			masked, readonly = []string{}, []string{}
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			return nil, nil, nil, fmt.Errorf("invalid --security-opt: %q", opt)
		}
		if k == "seccomp" && v != "unconfined" && v != "builtin" {
			b, err := os.ReadFile(v)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			var c bytes.Buffer
			if err := json.Compact(&c, b); err != nil {
				return nil, nil, nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
			}
			opt = "seccomp=" + c.String()
		}
		out = append(out, opt)
	}
	return out, masked, readonly, nil
}

// parseDevice reads --device HOST[:CONTAINER][:PERMISSIONS].
func parseDevice(s string) (container.DeviceMapping, error) {
	validMode := func(m string) bool {
		if m == "" {
			return false
		}
		seen := map[rune]bool{}
		for _, c := range m {
			if (c != 'r' && c != 'w' && c != 'm') || seen[c] {
				return false
			}
			seen[c] = true
		}
		return true
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 || parts[0] == "" {
		return container.DeviceMapping{}, fmt.Errorf("bad format for path: %s", s)
	}
	dm := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 2:
		if validMode(parts[1]) {
			dm.CgroupPermissions = parts[1]
		} else {
			dm.PathInContainer = parts[1]
		}
	case 3:
		if !validMode(parts[2]) {
			return container.DeviceMapping{}, fmt.Errorf("bad mode specified: %s", parts[2])
		}
		dm.PathInContainer, dm.CgroupPermissions = parts[1], parts[2]
	}
	if !path.IsAbs(dm.PathInContainer) {
		return container.DeviceMapping{}, fmt.Errorf("%s is not an absolute path", dm.PathInContainer)
	}
	return dm, nil
}
