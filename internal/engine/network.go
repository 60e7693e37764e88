package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/shoal-dev/shoal/internal/errdefs"
	shoalnet "github.com/shoal-dev/shoal/internal/network"
)

// Networks is what the engine needs of the network manager.
type Networks interface {
	Get(ctx context.Context, ref string) (*shoalnet.Network, error)
	List(ctx context.Context) []*shoalnet.Network
	Create(ctx context.Context, req shoalnet.CreateRequest) (*shoalnet.Network, error)
	Remove(ctx context.Context, ref string) error
	InUse(id string) int
	Setup(ctx context.Context, req shoalnet.SandboxRequest) (*shoalnet.Sandbox, error)
	Teardown(ctx context.Context, id string) error
	Sandbox(id string) (*shoalnet.Sandbox, bool)
	Connect(ctx context.Context, id, name string, er shoalnet.EndpointRequest) (*shoalnet.Sandbox, error)
	Disconnect(ctx context.Context, id, network string) error
	Restore(ctx context.Context, running func(id string) bool) error
}

// endpointConfig is what a container asked of one network (docker run
// --network/--network-alias/--ip/--ip6/--mac-address/--link, docker
// network connect).
type endpointConfig struct {
	NetworkID string     `json:"network_id"`
	Aliases   []string   `json:"aliases,omitempty"`
	IPv4      netip.Addr `json:"ipv4,omitzero"`
	IPv6      netip.Addr `json:"ipv6,omitzero"`
	MAC       string     `json:"mac,omitempty"`
	Links     []string   `json:"links,omitempty"`
}

// usesBridge says whether a network mode needs a network stack from the
// manager: the default bridge or a user-defined network.
func usesBridge(mode container.NetworkMode) bool {
	return !(mode.IsNone() || mode.IsHost() || mode.IsContainer())
}

// resolveNetworks checks the network mode and endpoint configs at create
// and returns the endpoints to store, by network name.
func (e *Engine) resolveNetworks(ctx context.Context, hc *container.HostConfig, cfg *container.Config, nc *network.NetworkingConfig) (map[string]*endpointConfig, error) {
	mode := string(hc.NetworkMode)
	// The docker CLI names the default network "default", in the mode
	// and as the key of its endpoint config.
	given := mode
	if mode == "" || mode == "default" {
		mode = "bridge"
	}
	var eps map[string]*network.EndpointSettings
	if nc != nil {
		eps = nc.EndpointsConfig
	}
	switch {
	case mode == "none" || mode == "host":
	case strings.HasPrefix(mode, "container:"):
		if strings.TrimPrefix(mode, "container:") == "" {
			return nil, fmt.Errorf("invalid network mode %q: %w", mode, errdefs.ErrInvalidArgument)
		}
	default:
		if e.cfg.Networks == nil {
			return nil, fmt.Errorf("network %s not found: %w", mode, errdefs.ErrInvalidArgument)
		}
		n, err := e.cfg.Networks.Get(ctx, mode)
		if err != nil {
			// Not a 404: the CLI takes a 404 from create for a missing
			// image and would try to pull it.
			return nil, fmt.Errorf("network %s not found: %w", mode, errdefs.ErrInvalidArgument)
		}
		switch n.Driver {
		case shoalnet.DriverHost, shoalnet.DriverNull:
			mode = n.Name
		}
	}
	hc.NetworkMode = container.NetworkMode(mode)
	if !usesBridge(hc.NetworkMode) {
		for name := range eps {
			if name != mode && name != given {
				return nil, fmt.Errorf("container cannot be connected to network %s with network mode %s: %w", name, mode, errdefs.ErrInvalidArgument)
			}
		}
		if hc.NetworkMode.IsContainer() {
			if len(hc.PortBindings) > 0 || hc.PublishAllPorts {
				return nil, fmt.Errorf("conflicting options: port publishing and the container type network mode: %w", errdefs.ErrInvalidArgument)
			}
			if cfg.Hostname != "" {
				return nil, fmt.Errorf("conflicting options: hostname and the network mode: %w", errdefs.ErrInvalidArgument)
			}
			if len(hc.DNS) > 0 || len(hc.DNSSearch) > 0 || len(hc.DNSOptions) > 0 {
				return nil, fmt.Errorf("conflicting options: dns and the network mode: %w", errdefs.ErrInvalidArgument)
			}
			if len(hc.ExtraHosts) > 0 {
				return nil, fmt.Errorf("conflicting options: custom host-to-IP mapping and the network mode: %w", errdefs.ErrInvalidArgument)
			}
		}
		if len(hc.Links) > 0 && (hc.NetworkMode.IsHost() || hc.NetworkMode.IsContainer()) {
			return nil, fmt.Errorf("conflicting options: container type network can't be used with links. This would result in undefined behavior: %w", errdefs.ErrInvalidArgument)
		}
		return nil, nil
	}
	if _, err := portRequests(hc, cfg); err != nil {
		return nil, err
	}
	out := map[string]*endpointConfig{}
	add := func(ref string, s *network.EndpointSettings) (string, error) {
		n, err := e.cfg.Networks.Get(ctx, ref)
		if err != nil {
			return "", fmt.Errorf("network %s not found: %w", ref, errdefs.ErrInvalidArgument)
		}
		if !n.IsBridge() {
			return "", fmt.Errorf("container cannot be connected to network %s with other networks: %w", n.Name, errdefs.ErrInvalidArgument)
		}
		ec := &endpointConfig{NetworkID: n.ID}
		if s != nil {
			ec.Aliases = append([]string(nil), s.Aliases...)
			ec.Links = append([]string(nil), s.Links...)
			if s.IPAMConfig != nil {
				ec.IPv4, ec.IPv6 = s.IPAMConfig.IPv4Address, s.IPAMConfig.IPv6Address
				if ec.IPv4.IsValid() && !ec.IPv4.Is4() {
					return "", fmt.Errorf("invalid IPv4 address: %s: %w", ec.IPv4, errdefs.ErrInvalidArgument)
				}
				if ec.IPv6.IsValid() && (!ec.IPv6.Is6() || ec.IPv6.Is4In6()) {
					return "", fmt.Errorf("invalid IPv6 address: %s: %w", ec.IPv6, errdefs.ErrInvalidArgument)
				}
				if err := checkEndpointAddr(n, ec.IPv4, ec.IPv6); err != nil {
					return "", err
				}
			}
			if len(s.MacAddress) > 0 {
				ec.MAC = s.MacAddress.String()
			}
		}
		if n.Default && len(ec.Aliases) > 0 {
			return "", fmt.Errorf("network-scoped alias is supported only for containers in user defined networks: %w", errdefs.ErrInvalidArgument)
		}
		out[n.Name] = ec
		return n.Name, nil
	}
	var primary *network.EndpointSettings
	for name, s := range eps {
		if name == mode || name == given {
			primary = s
		}
	}
	first, err := add(mode, primary)
	if err != nil {
		return nil, err
	}
	// Stored by name, as dockerd shows it.
	hc.NetworkMode = container.NetworkMode(first)
	for name, s := range eps {
		if name == mode || name == given {
			continue
		}
		if _, err := add(name, s); err != nil {
			return nil, err
		}
	}
	// --link rides on the primary endpoint (docker sends it in both
	// places for user-defined networks).
	for _, l := range hc.Links {
		if !slices.Contains(out[first].Links, l) {
			out[first].Links = append(out[first].Links, l)
		}
	}
	return out, nil
}

// checkEndpointAddr refuses --ip/--ip6 outside the network's subnets,
// or on a network whose subnet the user did not choose (dockerd's rule).
func checkEndpointAddr(n *shoalnet.Network, v4, v6 netip.Addr) error {
	if !v4.IsValid() && !v6.IsValid() {
		return nil
	}
	user := false
	for _, s := range n.Subnets {
		user = user || s.User
	}
	if !user {
		return fmt.Errorf("user specified IP address is supported only when connecting to networks with user configured subnets: %w", errdefs.ErrInvalidArgument)
	}
	for _, a := range []netip.Addr{v4, v6} {
		if !a.IsValid() {
			continue
		}
		ok := false
		for _, s := range n.Subnets {
			ok = ok || s.Subnet.Contains(a)
		}
		if !ok {
			return fmt.Errorf("no configured subnet or ip-range contain the IP address %s: %w", a, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// portRequests turns -p and -P into the manager's requests.
func portRequests(hc *container.HostConfig, cfg *container.Config) ([]shoalnet.PortRequest, error) {
	var out []shoalnet.PortRequest
	seen := map[network.Port]bool{}
	keys := make([]network.Port, 0, len(hc.PortBindings))
	for p := range hc.PortBindings {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, p := range keys {
		seen[p] = true
		bindings := hc.PortBindings[p]
		if len(bindings) == 0 {
			bindings = []network.PortBinding{{}}
		}
		for _, b := range bindings {
			lo, hi, err := shoalnet.ParsePortRange(b.HostPort)
			if err != nil {
				return nil, err
			}
			if p.Num() == 0 {
				return nil, fmt.Errorf("invalid port specification: %q: %w", p.String(), errdefs.ErrInvalidArgument)
			}
			out = append(out, shoalnet.PortRequest{Proto: string(p.Proto()), ContainerPort: p.Num(), HostIP: b.HostIP, HostPortStart: lo, HostPortEnd: hi})
		}
	}
	if hc.PublishAllPorts {
		exposed := make([]network.Port, 0, len(cfg.ExposedPorts))
		for p := range cfg.ExposedPorts {
			if !seen[p] {
				exposed = append(exposed, p)
			}
		}
		sort.Slice(exposed, func(i, j int) bool { return exposed[i].String() < exposed[j].String() })
		for _, p := range exposed {
			out = append(out, shoalnet.PortRequest{Proto: string(p.Proto()), ContainerPort: p.Num()})
		}
	}
	for _, r := range out {
		if r.Proto != "tcp" && r.Proto != "udp" {
			return nil, fmt.Errorf("invalid proto %q for port %d: Shoal publishes tcp and udp ports: %w", r.Proto, r.ContainerPort, errdefs.ErrInvalidArgument)
		}
	}
	return out, nil
}

// setupNetwork builds the network stack of a container about to start,
// or returns nil when its mode needs none.
func (e *Engine) setupNetwork(ctx context.Context, rec *record) (*shoalnet.Sandbox, error) {
	if !usesBridge(rec.HostConfig.NetworkMode) || e.cfg.Networks == nil {
		return nil, nil
	}
	// A stack left by a run the daemon did not see end.
	if _, ok := e.cfg.Networks.Sandbox(rec.ID); ok {
		if err := e.cfg.Networks.Teardown(ctx, rec.ID); err != nil {
			return nil, err
		}
	}
	ports, err := portRequests(rec.HostConfig, rec.Config)
	if err != nil {
		return nil, err
	}
	req := shoalnet.SandboxRequest{ContainerID: rec.ID, Name: strings.TrimPrefix(rec.Name, "/"), Hostname: rec.Config.Hostname, Ports: ports}
	for _, a := range rec.HostConfig.DNS {
		req.Upstreams = append(req.Upstreams, netip.AddrPortFrom(a, 53))
	}
	for _, name := range endpointOrder(rec) {
		ec := rec.Networks[name]
		ref := ec.NetworkID
		if ref == "" {
			ref = name
		}
		req.Endpoints = append(req.Endpoints, shoalnet.EndpointRequest{Network: ref, Aliases: ec.Aliases, IPv4: ec.IPv4, IPv6: ec.IPv6, MAC: ec.MAC, Links: ec.Links})
	}
	if len(req.Endpoints) == 0 {
		return nil, fmt.Errorf("container %s is not connected to any network: %w", ShortID(rec.ID), errdefs.ErrInvalidArgument)
	}
	sb, err := e.cfg.Networks.Setup(ctx, req)
	if err != nil {
		return nil, err
	}
	return sb, nil
}

// endpointOrder puts the network of the network mode first (it gets the
// default route and the published ports), the rest by name.
func endpointOrder(rec *record) []string {
	mode := string(rec.HostConfig.NetworkMode)
	var names []string
	for name := range rec.Networks {
		if name != mode {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if _, ok := rec.Networks[mode]; ok {
		names = append([]string{mode}, names...)
	}
	return names
}

func (e *Engine) teardownNetwork(ctx context.Context, id string) {
	if e.cfg.Networks == nil {
		return
	}
	if err := e.cfg.Networks.Teardown(ctx, id); err != nil {
		e.log.Warn("tear down network stack", "id", id, "err", err)
	}
}

// networkSettings fills inspect's NetworkSettings.
func (e *Engine) networkSettings(rec *record, out *container.NetworkSettings) {
	mode := string(rec.HostConfig.NetworkMode)
	if mode == "none" || mode == "host" {
		out.Networks[mode] = &network.EndpointSettings{}
		if e.cfg.Networks != nil {
			if n, err := e.cfg.Networks.Get(context.Background(), mode); err == nil {
				out.Networks[mode].NetworkID = n.ID
			}
		}
	}
	var sb *shoalnet.Sandbox
	if e.cfg.Networks != nil && (rec.State.Status == StatusRunning || rec.State.Status == StatusPaused) {
		sb, _ = e.cfg.Networks.Sandbox(rec.ID)
	}
	for name, ec := range rec.Networks {
		es := &network.EndpointSettings{NetworkID: ec.NetworkID, Aliases: ec.Aliases, Links: ec.Links}
		if ec.IPv4.IsValid() || ec.IPv6.IsValid() {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ec.IPv4, IPv6Address: ec.IPv6}
		}
		out.Networks[name] = es
	}
	if sb == nil {
		if usesBridge(rec.HostConfig.NetworkMode) {
			out.Ports = network.PortMap{}
		}
		return
	}
	sum := sha256.Sum256([]byte("sandbox:" + rec.ID))
	out.SandboxID = hex.EncodeToString(sum[:])
	out.SandboxKey = sb.NetNS
	for _, ep := range sb.Endpoints {
		es := out.Networks[ep.NetworkName]
		if es == nil {
			es = &network.EndpointSettings{NetworkID: ep.NetworkID}
			out.Networks[ep.NetworkName] = es
		}
		es.EndpointID = ep.EndpointID
		es.DNSNames = ep.DNSNames
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			es.MacAddress = network.HardwareAddr(mac)
		}
		if ep.IPv4.IsValid() {
			es.IPAddress, es.IPPrefixLen, es.Gateway = ep.IPv4.Addr(), ep.IPv4.Bits(), ep.Gateway4
		}
		if ep.IPv6.IsValid() {
			es.GlobalIPv6Address, es.GlobalIPv6PrefixLen, es.IPv6Gateway = ep.IPv6.Addr(), ep.IPv6.Bits(), ep.Gateway6
		}
	}
	out.Ports = portMap(rec, sb)
}

// portMap is inspect's Ports: every exposed or published port, with the
// host bindings it has.
func portMap(rec *record, sb *shoalnet.Sandbox) network.PortMap {
	pm := network.PortMap{}
	for p := range rec.Config.ExposedPorts {
		pm[p] = nil
	}
	if sb == nil {
		return pm
	}
	for _, m := range sb.Ports {
		p, ok := network.PortFrom(m.ContainerPort, network.IPProtocol(m.Proto))
		if !ok {
			continue
		}
		pm[p] = append(pm[p], network.PortBinding{HostIP: m.HostIP, HostPort: fmt.Sprint(m.HostPort)})
	}
	return pm
}

// portSummaries is docker ps's view of the ports.
func (e *Engine) portSummaries(rec *record) []container.PortSummary {
	out := []container.PortSummary{}
	var sb *shoalnet.Sandbox
	if e.cfg.Networks != nil && (rec.State.Status == StatusRunning || rec.State.Status == StatusPaused) {
		sb, _ = e.cfg.Networks.Sandbox(rec.ID)
	}
	published := map[string]bool{}
	if sb != nil {
		for _, m := range sb.Ports {
			out = append(out, container.PortSummary{IP: m.HostIP, PrivatePort: m.ContainerPort, PublicPort: m.HostPort, Type: m.Proto})
			published[fmt.Sprintf("%d/%s", m.ContainerPort, m.Proto)] = true
		}
	}
	for p := range rec.Config.ExposedPorts {
		if !published[p.String()] {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	return out
}

// networkStack is a container's network stack, if it has one.
func (e *Engine) networkStack(id string) (*shoalnet.Sandbox, bool) {
	if e.cfg.Networks == nil {
		return nil, false
	}
	return e.cfg.Networks.Sandbox(id)
}
