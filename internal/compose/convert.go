package compose

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
)

// createSpec is what makes one container of a service differ from its
// siblings.
type createSpec struct {
	number int
	name   string
	// hash is the service's config hash; imageID the image's ID.
	hash, imageID string
	// oneoff marks a `compose run` container; slug identifies it.
	oneoff bool
	slug   string
	// serviceAlias adds the service's name (and its aliases) as DNS
	// names on the service's networks; `run` leaves them out.
	serviceAlias bool
	// run's overrides.
	autoRemove  bool
	interactive bool
}

// createRequest turns service s into the Engine API's create request
// for one of its containers.
func createRequest(p *types.Project, s types.ServiceConfig, spec createSpec) (container.CreateRequest, error) {
	cfg := &container.Config{
		Hostname:     s.Hostname,
		Domainname:   s.DomainName,
		User:         s.User,
		Tty:          s.Tty,
		OpenStdin:    s.StdinOpen || spec.interactive,
		StdinOnce:    spec.interactive,
		AttachStdin:  spec.interactive,
		AttachStdout: true,
		AttachStderr: true,
		Cmd:          []string(s.Command),
		Entrypoint:   []string(s.Entrypoint),
		Image:        ImageName(p.Name, s),
		WorkingDir:   s.WorkingDir,
		StopSignal:   s.StopSignal,
		Env:          envList(s.Environment),
		Labels:       containerLabels(s, spec),
	}
	if s.NetworkMode == "disabled" {
		cfg.NetworkDisabled = true
	}
	if s.StopGracePeriod != nil {
		sec := int(time.Duration(*s.StopGracePeriod).Seconds())
		cfg.StopTimeout = &sec
	}
	hc, err := healthConfig(s.HealthCheck)
	if err != nil {
		return container.CreateRequest{}, fmt.Errorf("service %s: %w", s.Name, err)
	}
	cfg.Healthcheck = hc
	exposed, bindings, err := portConfig(s)
	if err != nil {
		return container.CreateRequest{}, fmt.Errorf("service %s: %w", s.Name, err)
	}
	cfg.ExposedPorts = exposed

	host := &container.HostConfig{
		AutoRemove:     spec.autoRemove,
		Annotations:    s.Annotations,
		CapAdd:         s.CapAdd,
		CapDrop:        s.CapDrop,
		Init:           s.Init,
		IpcMode:        container.IpcMode(s.Ipc),
		CgroupnsMode:   container.CgroupnsMode(s.Cgroup),
		ReadonlyRootfs: s.ReadOnly,
		RestartPolicy:  restartPolicy(s),
		ShmSize:        int64(s.ShmSize),
		Sysctls:        s.Sysctls,
		PortBindings:   bindings,
		VolumeDriver:   s.VolumeDriver,
		DNSSearch:      s.DNSSearch,
		DNSOptions:     s.DNSOpts,
		ExtraHosts:     s.ExtraHosts.AsList(":"),
		SecurityOpt:    s.SecurityOpt,
		StorageOpt:     s.StorageOpt,
		UsernsMode:     container.UsernsMode(s.UserNSMode),
		UTSMode:        container.UTSMode(s.Uts),
		Privileged:     s.Privileged,
		PidMode:        container.PidMode(s.Pid),
		Isolation:      container.Isolation(s.Isolation),
		Runtime:        s.Runtime,
		GroupAdd:       s.GroupAdd,
		OomScoreAdj:    int(s.OomScoreAdj),
		Resources:      resources(s),
	}
	for _, d := range s.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return container.CreateRequest{}, invalidf("service %s: invalid dns address %q", s.Name, d)
		}
		host.DNS = append(host.DNS, a)
	}
	if s.Logging != nil {
		host.LogConfig = container.LogConfig{Type: s.Logging.Driver, Config: s.Logging.Options}
	}
	if len(s.Tmpfs) > 0 {
		host.Tmpfs = map[string]string{}
		for _, t := range s.Tmpfs {
			path, opts, _ := strings.Cut(t, ":")
			host.Tmpfs[path] = opts
		}
	}
	for _, v := range s.VolumesFrom {
		host.VolumesFrom = append(host.VolumesFrom, volumesFrom(p, v))
	}
	binds, mounts, err := volumeConfig(p, s)
	if err != nil {
		return container.CreateRequest{}, fmt.Errorf("service %s: %w", s.Name, err)
	}
	host.Binds, host.Mounts = binds, mounts
	host.Links = links(p, s)

	mode, nc, err := networkConfig(p, s, spec)
	if err != nil {
		return container.CreateRequest{}, err
	}
	host.NetworkMode = mode
	return container.CreateRequest{Config: cfg, HostConfig: host, NetworkingConfig: nc}, nil
}

// containerLabels are the service's labels with Compose's.
func containerLabels(s types.ServiceConfig, spec createSpec) map[string]string {
	l := map[string]string{}
	for k, v := range s.Labels {
		l[k] = v
	}
	for k, v := range s.CustomLabels {
		l[k] = v
	}
	l[LabelService] = s.Name
	l[LabelNumber] = strconv.Itoa(spec.number)
	l[LabelConfigHash] = spec.hash
	l[LabelDependsOn] = dependsOnLabel(s)
	l[LabelOneoff] = "False"
	if spec.imageID != "" {
		l[LabelImage] = spec.imageID
	}
	if spec.oneoff {
		l[LabelOneoff] = "True"
		l[LabelSlug] = spec.slug
	}
	return l
}

// envList is the environment as KEY=VALUE, sorted; a variable without a
// value is passed as KEY, which the daemon leaves unset.
func envList(m types.MappingWithEquals) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		if v := m[k]; v != nil {
			out = append(out, k+"="+*v)
		} else {
			out = append(out, k)
		}
	}
	return out
}

func healthConfig(h *types.HealthCheckConfig) (*container.HealthConfig, error) {
	if h == nil {
		return nil, nil
	}
	if h.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	out := &container.HealthConfig{Test: []string(h.Test)}
	if len(out.Test) > 0 {
		switch out.Test[0] {
		case "CMD", "CMD-SHELL", "NONE":
		default:
			return nil, invalidf("healthcheck test must start with CMD, CMD-SHELL or NONE, got %q", out.Test[0])
		}
	}
	dur := func(d *types.Duration) time.Duration {
		if d == nil {
			return 0
		}
		return time.Duration(*d)
	}
	out.Interval, out.Timeout = dur(h.Interval), dur(h.Timeout)
	out.StartPeriod, out.StartInterval = dur(h.StartPeriod), dur(h.StartInterval)
	if h.Retries != nil {
		out.Retries = int(*h.Retries)
	}
	return out, nil
}

// portConfig is the service's exposed ports and port bindings.
func portConfig(s types.ServiceConfig) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	for _, e := range s.Expose {
		ports, err := expandPorts(e)
		if err != nil {
			return nil, nil, err
		}
		for _, p := range ports {
			exposed[p] = struct{}{}
		}
	}
	bindings := network.PortMap{}
	for _, sp := range s.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = "tcp"
		}
		p, err := network.ParsePort(fmt.Sprintf("%d/%s", sp.Target, proto))
		if err != nil {
			return nil, nil, invalidf("invalid port %d/%s: %v", sp.Target, proto, err)
		}
		exposed[p] = struct{}{}
		b := network.PortBinding{HostPort: sp.Published}
		if sp.HostIP != "" {
			a, err := netip.ParseAddr(sp.HostIP)
			if err != nil {
				return nil, nil, invalidf("invalid host_ip %q for port %d", sp.HostIP, sp.Target)
			}
			b.HostIP = a
		}
		bindings[p] = append(bindings[p], b)
	}
	if len(exposed) == 0 {
		exposed = nil
	}
	if len(bindings) == 0 {
		bindings = nil
	}
	return exposed, bindings, nil
}

// expandPorts reads an expose entry: "80", "80/udp" or "8000-8002".
func expandPorts(spec string) ([]network.Port, error) {
	if p, err := network.ParsePort(spec); err == nil {
		return []network.Port{p}, nil
	}
	r, err := network.ParsePortRange(spec)
	if err != nil {
		return nil, invalidf("invalid expose entry %q: %v", spec, err)
	}
	var out []network.Port
	for p := range r.All() {
		out = append(out, p)
	}
	return out, nil
}

// restartPolicy maps restart: and deploy.restart_policy (which wins), as
// Compose does.
func restartPolicy(s types.ServiceConfig) container.RestartPolicy {
	var rp container.RestartPolicy
	mode := func(c string) container.RestartPolicyMode {
		switch c {
		case "none", "no", "":
			return container.RestartPolicyDisabled
		case "any", "always":
			return container.RestartPolicyAlways
		}
		return container.RestartPolicyMode(c)
	}
	if s.Restart != "" {
		name, n, _ := strings.Cut(s.Restart, ":")
		attempts, _ := strconv.Atoi(n)
		rp = container.RestartPolicy{Name: mode(name), MaximumRetryCount: attempts}
	}
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		pol := s.Deploy.RestartPolicy
		rp = container.RestartPolicy{Name: mode(pol.Condition)}
		if pol.MaxAttempts != nil {
			rp.MaximumRetryCount = int(*pol.MaxAttempts)
		}
	}
	return rp
}

func resources(s types.ServiceConfig) container.Resources {
	r := container.Resources{
		CgroupParent:      s.CgroupParent,
		Memory:            int64(s.MemLimit),
		MemorySwap:        int64(s.MemSwapLimit),
		MemoryReservation: int64(s.MemReservation),
		CPUCount:          s.CPUCount,
		CPUPeriod:         s.CPUPeriod,
		CPUQuota:          s.CPUQuota,
		CPUShares:         s.CPUShares,
		NanoCPUs:          int64(float64(s.CPUS) * 1e9),
		CpusetCpus:        s.CPUSet,
		DeviceCgroupRules: s.DeviceCgroupRules,
	}
	if s.MemSwappiness != 0 {
		v := int64(s.MemSwappiness)
		r.MemorySwappiness = &v
	}
	if s.OomKillDisable {
		t := true
		r.OomKillDisable = &t
	}
	if s.PidsLimit != 0 {
		v := s.PidsLimit
		r.PidsLimit = &v
	}
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.MemoryBytes != 0 {
				r.Memory = int64(l.MemoryBytes)
			}
			if l.NanoCPUs != 0 {
				r.NanoCPUs = int64(float64(l.NanoCPUs) * 1e9)
			}
			if l.Pids > 0 {
				v := l.Pids
				r.PidsLimit = &v
			}
		}
		if rs := s.Deploy.Resources.Reservations; rs != nil && rs.MemoryBytes != 0 {
			r.MemoryReservation = int64(rs.MemoryBytes)
		}
	}
	for _, d := range s.Devices {
		r.Devices = append(r.Devices, container.DeviceMapping{PathOnHost: d.Source, PathInContainer: d.Target, CgroupPermissions: d.Permissions})
	}
	for _, name := range sortedKeys(s.Ulimits) {
		u := s.Ulimits[name]
		soft, hard := u.Single, u.Single
		if u.Soft != 0 {
			soft = u.Soft
		}
		if u.Hard != 0 {
			hard = u.Hard
		}
		r.Ulimits = append(r.Ulimits, &units.Ulimit{Name: name, Soft: int64(soft), Hard: int64(hard)})
	}
	return r
}

// volumesFrom resolves "service[:mode]" to the service's first
// container; "container:name[:mode]" is passed on.
func volumesFrom(p *types.Project, v string) string {
	if rest, ok := strings.CutPrefix(v, types.ContainerPrefix); ok {
		return rest
	}
	name, mode, _ := strings.Cut(v, ":")
	if s, ok := p.Services[name]; ok {
		name = ContainerName(p.Name, s, 1)
	}
	if mode != "" {
		return name + ":" + mode
	}
	return name
}

// volumeConfig turns the service's volumes, secrets and configs into
// binds (bind mounts that create a missing host path, as Compose passes
// them) and mounts.
func volumeConfig(p *types.Project, s types.ServiceConfig) ([]string, []mount.Mount, error) {
	var binds []string
	var mounts []mount.Mount
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeBind:
			if v.Bind == nil || (bool(v.Bind.CreateHostPath) && v.Bind.Propagation == "" && v.Bind.Recursive == "") {
				b := v.Source + ":" + v.Target
				var opts []string
				if v.ReadOnly {
					opts = append(opts, "ro")
				}
				if v.Bind != nil && v.Bind.SELinux != "" {
					opts = append(opts, v.Bind.SELinux)
				}
				if len(opts) > 0 {
					b += ":" + strings.Join(opts, ",")
				}
				binds = append(binds, b)
				continue
			}
			m := mount.Mount{Type: mount.TypeBind, Source: v.Source, Target: v.Target, ReadOnly: v.ReadOnly,
				BindOptions: &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}}
			if v.Bind.Recursive == "disabled" {
				m.BindOptions.NonRecursive = true
			}
			mounts = append(mounts, m)
		case types.VolumeTypeVolume, "":
			m := mount.Mount{Type: mount.TypeVolume, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Source != "" {
				pv, ok := p.Volumes[v.Source]
				if !ok {
					return nil, nil, invalidf("undefined volume %q", v.Source)
				}
				m.Source = pv.Name
			}
			if v.Volume != nil {
				m.VolumeOptions = &mount.VolumeOptions{NoCopy: v.Volume.NoCopy, Subpath: v.Volume.Subpath, Labels: v.Volume.Labels}
			}
			mounts = append(mounts, m)
		case types.VolumeTypeTmpfs:
			m := mount.Mount{Type: mount.TypeTmpfs, Target: v.Target, ReadOnly: v.ReadOnly}
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size)}
				if v.Tmpfs.Mode != 0 {
					m.TmpfsOptions.Mode = os.FileMode(v.Tmpfs.Mode)
				}
			}
			mounts = append(mounts, m)
		default:
			return nil, nil, invalidf("volume type %q is not supported", v.Type)
		}
	}
	for _, sec := range s.Secrets {
		def, ok := p.Secrets[sec.Source]
		if !ok {
			return nil, nil, invalidf("undefined secret %q", sec.Source)
		}
		m, err := fileMount(types.FileObjectConfig(def), sec.Source, sec.Target, "/run/secrets/")
		if err != nil {
			return nil, nil, fmt.Errorf("secret %s: %w", sec.Source, err)
		}
		mounts = append(mounts, m)
	}
	for _, c := range s.Configs {
		def, ok := p.Configs[c.Source]
		if !ok {
			return nil, nil, invalidf("undefined config %q", c.Source)
		}
		m, err := fileMount(types.FileObjectConfig(def), c.Source, c.Target, "/")
		if err != nil {
			return nil, nil, fmt.Errorf("config %s: %w", c.Source, err)
		}
		mounts = append(mounts, m)
	}
	return binds, mounts, nil
}

// fileMount is a file-based secret or config, bind-mounted read-only.
func fileMount(def types.FileObjectConfig, source, target, dir string) (mount.Mount, error) {
	if def.File == "" {
		return mount.Mount{}, invalidf("only file-based secrets and configs are supported")
	}
	switch {
	case target == "":
		target = dir + source
	case !filepath.IsAbs(target):
		target = dir + target
	}
	return mount.Mount{Type: mount.TypeBind, Source: def.File, Target: target, ReadOnly: true}, nil
}

// links are links: and external_links: as name:alias pairs.
func links(p *types.Project, s types.ServiceConfig) []string {
	var out []string
	for _, l := range s.Links {
		name, alias, _ := strings.Cut(l, ":")
		if alias == "" {
			alias = name
		}
		if ls, ok := p.Services[name]; ok {
			name = ContainerName(p.Name, ls, 1)
		}
		out = append(out, name+":"+alias)
	}
	for _, l := range s.ExternalLinks {
		name, alias, _ := strings.Cut(l, ":")
		if alias == "" {
			alias = name
		}
		out = append(out, name+":"+alias)
	}
	return out
}

// networkConfig is the container's network mode and endpoints: the
// service's networks (the project's default one if it names none), each
// with the container's and the service's names as DNS aliases.
func networkConfig(p *types.Project, s types.ServiceConfig, spec createSpec) (container.NetworkMode, *network.NetworkingConfig, error) {
	if s.NetworkMode != "" {
		mode := s.NetworkMode
		if svc, ok := strings.CutPrefix(mode, types.ServicePrefix); ok {
			target, ok := p.Services[svc]
			if !ok {
				return "", nil, invalidf("service %s: network_mode refers to undefined service %q", s.Name, svc)
			}
			mode = types.ContainerPrefix + ContainerName(p.Name, target, 1)
		}
		if mode == "disabled" {
			mode = "none"
		}
		return container.NetworkMode(mode), nil, nil
	}
	if len(p.Networks) == 0 {
		return "none", nil, nil
	}
	keys := s.NetworksByPriority()
	if len(keys) == 0 {
		keys = []string{"default"}
	}
	eps := map[string]*network.EndpointSettings{}
	for _, key := range keys {
		n, ok := p.Networks[key]
		if !ok {
			return "", nil, invalidf("service %s refers to undefined network %s", s.Name, key)
		}
		cfg := s.Networks[key]
		aliases := []string{spec.name}
		if spec.serviceAlias {
			aliases = append(aliases, s.Name)
			if cfg != nil {
				aliases = append(aliases, cfg.Aliases...)
			}
		}
		ep := &network.EndpointSettings{Aliases: aliases}
		if cfg != nil {
			ipam := &network.EndpointIPAMConfig{}
			var err error
			if cfg.Ipv4Address != "" {
				if ipam.IPv4Address, err = netip.ParseAddr(cfg.Ipv4Address); err != nil {
					return "", nil, invalidf("service %s: invalid ipv4_address %q", s.Name, cfg.Ipv4Address)
				}
			}
			if cfg.Ipv6Address != "" {
				if ipam.IPv6Address, err = netip.ParseAddr(cfg.Ipv6Address); err != nil {
					return "", nil, invalidf("service %s: invalid ipv6_address %q", s.Name, cfg.Ipv6Address)
				}
			}
			if ipam.IPv4Address.IsValid() || ipam.IPv6Address.IsValid() {
				ep.IPAMConfig = ipam
			}
			mac := cfg.MacAddress
			if mac == "" && key == keys[0] {
				mac = s.MacAddress
			}
			if mac != "" {
				hw, err := net.ParseMAC(mac)
				if err != nil {
					return "", nil, invalidf("service %s: invalid mac_address %q", s.Name, mac)
				}
				ep.MacAddress = network.HardwareAddr(hw)
			}
			ep.DriverOpts = cfg.DriverOpts
			ep.GwPriority = cfg.GatewayPriority
		}
		eps[n.Name] = ep
	}
	primary := p.Networks[keys[0]].Name
	return container.NetworkMode(primary), &network.NetworkingConfig{EndpointsConfig: eps}, nil
}

// serviceNetworks are the project network keys the service is on.
func serviceNetworks(s types.ServiceConfig) []string {
	if s.NetworkMode != "" {
		return nil
	}
	if len(s.Networks) == 0 {
		return []string{"default"}
	}
	keys := make([]string, 0, len(s.Networks))
	for k := range s.Networks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
