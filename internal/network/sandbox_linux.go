package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/network/firewall"
	"github.com/shoal-dev/shoal/internal/network/link"
)

// ensureKernel makes n's bridge and rules exist (idempotent).
func (m *Manager) ensureKernel(ctx context.Context, n *Network) error {
	if !n.IsBridge() {
		return nil
	}
	b := link.Bridge{Name: n.Bridge, MTU: n.MTU, IPv6: n.IPv6, RouteLocalnet: true}
	for _, s := range n.Subnets {
		b.Addrs = append(b.Addrs, netip.PrefixFrom(s.Gateway, s.Subnet.Bits()))
	}
	if !n.ICC {
		if err := bridgeNetfilter(); err != nil {
			return err
		}
	}
	if err := link.EnsureBridge(ctx, b); err != nil {
		return fmt.Errorf("create bridge %s: %w", n.Bridge, err)
	}
	if !n.Internal {
		if err := link.EnableForwarding(n.IPv4, n.IPv6); err != nil {
			return fmt.Errorf("enable forwarding: %w", err)
		}
	}
	if err := m.markTable(); err != nil {
		return err
	}
	if err := m.fw.SetNetwork(ctx, firewallNetwork(n)); err != nil {
		return fmt.Errorf("firewall rules of network %s: %w", n.Name, err)
	}
	return nil
}

// bridgeNetfilter makes bridged traffic pass the IP hooks, where the
// firewall drops traffic between containers of an enable_icc=false
// network (dockerd sets the same sysctls). Without br_netfilter that
// option cannot be honoured, and is refused.
func bridgeNetfilter() error {
	for _, f := range []string{"bridge-nf-call-iptables", "bridge-nf-call-ip6tables"} {
		p := "/proc/sys/net/bridge/" + f
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("com.docker.network.bridge.enable_icc=false needs the br_netfilter kernel module (modprobe br_netfilter): %w", errdefs.ErrFailedPrecondition)
		}
		if strings.TrimSpace(string(b)) != "1" {
			if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
				return fmt.Errorf("enable %s: %w", f, err)
			}
		}
	}
	return nil
}

// markTable records that this daemon makes rules in its table, before it
// makes them.
func (m *Manager) markTable() error {
	if m.db.getMeta(keyTable) {
		return nil
	}
	if err := m.db.put(bucketMeta, keyTable, true); err != nil {
		return fmt.Errorf("record the firewall table: %w", err)
	}
	return nil
}

// dropKernel removes n's bridge and rules.
func (m *Manager) dropKernel(ctx context.Context, n *Network) error {
	if !n.IsBridge() {
		return nil
	}
	var errs []error
	if err := m.fw.RemoveNetwork(ctx, n.Bridge); err != nil {
		errs = append(errs, fmt.Errorf("firewall rules of network %s: %w", n.Name, err))
	}
	if err := link.DeleteBridge(n.Bridge); err != nil {
		errs = append(errs, fmt.Errorf("delete bridge %s: %w", n.Bridge, err))
	}
	return errors.Join(errs...)
}

// hostRoutes are the destinations of the routes in the daemon's network
// namespace.
func hostRoutes() ([]netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		out = append(out, netip.PrefixFrom(a.Unmap(), ones))
	}
	return out, nil
}

// NetNSPath is where container id's network namespace file lives.
func (m *Manager) NetNSPath(id string) string {
	return filepath.Join(m.cfg.ExecRoot, "netns", id)
}

func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// plannedEndpoint is an endpoint and the network it is on.
type plannedEndpoint struct {
	net *Network
	ep  Endpoint
	req EndpointRequest
}

// Setup builds a container's network stack: a namespace, an endpoint
// on each network (address, veth, routes), published ports and DNS
// records. On failure nothing of it is left.
func (m *Manager) Setup(ctx context.Context, req SandboxRequest) (_ *Sandbox, err error) {
	if len(req.Endpoints) == 0 {
		return nil, fmt.Errorf("container %s: no network to attach: %w", req.ContainerID, errdefs.ErrInvalidArgument)
	}
	m.mu.Lock()
	if _, ok := m.sandboxes[req.ContainerID]; ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("container %s already has a network stack: %w", req.ContainerID, errdefs.ErrConflict)
	}
	sb := &Sandbox{ContainerID: req.ContainerID, Name: req.Name, NetNS: m.NetNSPath(req.ContainerID), Upstreams: req.Upstreams}
	// Registered before the kernel work so a concurrent network removal
	// sees the endpoints; taken back on failure.
	var planned []*plannedEndpoint
	for _, er := range req.Endpoints {
		n, err := m.lookupLocked(er.Network)
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		if !n.IsBridge() {
			m.mu.Unlock()
			return nil, fmt.Errorf("container cannot be connected to network %s with other networks: %w", n.Name, errdefs.ErrInvalidArgument)
		}
		planned = append(planned, &plannedEndpoint{net: n.clone(), req: er})
	}
	for _, p := range planned {
		m.users[p.net.ID]++
	}
	m.sandboxes[req.ContainerID] = sb
	m.mu.Unlock()

	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
			m.mu.Lock()
			for _, p := range planned {
				m.users[p.net.ID]--
			}
			delete(m.sandboxes, req.ContainerID)
			m.mu.Unlock()
		}
	}()
	for i, p := range planned {
		ep, err := m.allocate(p.net, req, p.req, i)
		if err != nil {
			return nil, err
		}
		netID := p.net.ID
		undo = append(undo, func() { _ = m.ipam.ReleaseOwner(netID, req.ContainerID) })
		p.ep = ep
	}
	if err := link.NewNetNS(sb.NetNS); err != nil {
		return nil, fmt.Errorf("create network namespace: %w", err)
	}
	undo = append(undo, func() { _ = link.DeleteNetNS(sb.NetNS) })
	defaultRoute := true
	for _, p := range planned {
		if err := m.plumb(ctx, sb.NetNS, p, defaultRoute); err != nil {
			return nil, err
		}
		host := p.ep.HostIfName
		undo = append(undo, func() { _ = link.RemoveEndpoint(host) })
		defaultRoute = false
		sb.Endpoints = append(sb.Endpoints, p.ep)
	}
	if len(req.Ports) > 0 {
		ports, rules, err := m.publish(req.ContainerID, sb.Endpoints[0], planned[0].net, req.Ports)
		if err != nil {
			return nil, err
		}
		undo = append(undo, func() { m.ports.release(req.ContainerID) })
		if err := m.fw.AddPorts(ctx, rules); err != nil {
			return nil, fmt.Errorf("publish ports: %w", err)
		}
		undo = append(undo, func() { _ = m.fw.RemovePorts(context.WithoutCancel(ctx), req.ContainerID) })
		sb.Ports = ports
	}
	sb.Hosts, err = m.links(planned)
	if err != nil {
		return nil, err
	}
	if err := m.serveDNS(ctx, sb); err != nil {
		return nil, err
	}
	undo = append(undo, func() { m.dns.Close(req.ContainerID); m.rec.RemoveOwner(req.ContainerID) })
	if err := m.db.put(bucketSandboxes, sb.ContainerID, sb); err != nil {
		return nil, fmt.Errorf("save network stack of %s: %w", req.ContainerID, err)
	}
	m.mu.Lock()
	m.sandboxes[req.ContainerID] = sb
	m.mu.Unlock()
	return sb.clone(), nil
}

func (s *Sandbox) clone() *Sandbox {
	c := *s
	c.Endpoints = append([]Endpoint(nil), s.Endpoints...)
	c.Ports = append([]PortMapping(nil), s.Ports...)
	c.Hosts = append([]string(nil), s.Hosts...)
	return &c
}

// allocate gives an endpoint its addresses and names (no kernel work).
func (m *Manager) allocate(n *Network, sr SandboxRequest, er EndpointRequest, index int) (Endpoint, error) {
	ep := Endpoint{NetworkID: n.ID, NetworkName: n.Name, EndpointID: newID(),
		HostIfName: vethPrefix + randomHex(12), IfName: fmt.Sprintf("eth%d", index),
		Aliases: er.Aliases, Requested4: er.IPv4, Requested6: er.IPv6, Links: er.Links}
	if (er.IPv4.IsValid() || er.IPv6.IsValid()) && !n.hasUserSubnet() {
		return ep, fmt.Errorf("user specified IP address is supported only when connecting to networks with user configured subnets: %w", errdefs.ErrInvalidArgument)
	}
	for _, s := range n.Subnets {
		want := er.IPv4
		if s.Subnet.Addr().Is6() {
			want = er.IPv6
		}
		addr, pfx, err := m.ipam.Allocate(n.ID, sr.ContainerID, want)
		if err != nil {
			return ep, fmt.Errorf("network %s: %w", n.Name, err)
		}
		_ = addr
		if pfx.Addr().Is4() {
			ep.IPv4, ep.Gateway4 = pfx, s.Gateway
		} else {
			ep.IPv6, ep.Gateway6 = pfx, s.Gateway
		}
	}
	if er.MAC != "" {
		ep.MAC = er.MAC
	} else if ep.IPv4.IsValid() {
		ep.MAC = link.MACFromIP(ep.IPv4.Addr()).String()
	} else {
		ep.MAC = link.RandomMAC().String()
	}
	if !n.Default {
		ep.DNSNames = dnsNames(sr, er)
	}
	return ep, nil
}

// hasUserSubnet says whether the user gave the network's pools;
// dockerd lets --ip pick an address only then.
func (n *Network) hasUserSubnet() bool {
	for _, s := range n.Subnets {
		if s.User {
			return true
		}
	}
	return false
}

// dnsNames are the names the embedded DNS answers for an endpoint:
// the container's name, its aliases and its short ID, as dockerd.
func dnsNames(sr SandboxRequest, er EndpointRequest) []string {
	names := []string{}
	seen := map[string]bool{}
	for _, n := range append(append([]string{sr.Name}, er.Aliases...), sr.ContainerID[:min(12, len(sr.ContainerID))]) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// plumb makes an endpoint's veth pair, addresses and routes.
func (m *Manager) plumb(ctx context.Context, netns string, p *plannedEndpoint, defaultRoute bool) error {
	mac, err := net.ParseMAC(p.ep.MAC)
	if err != nil {
		return err
	}
	le := link.Endpoint{HostIfName: p.ep.HostIfName, Bridge: p.net.Bridge, NetNS: netns, IfName: p.ep.IfName,
		MAC: mac, MTU: p.net.MTU, Hairpin: true, DefaultRoute: defaultRoute}
	for _, a := range []netip.Prefix{p.ep.IPv4, p.ep.IPv6} {
		if a.IsValid() {
			le.Addrs = append(le.Addrs, a)
		}
	}
	for _, g := range []netip.Addr{p.ep.Gateway4, p.ep.Gateway6} {
		if g.IsValid() {
			le.Gateways = append(le.Gateways, g)
		}
	}
	if err := link.AddEndpoint(ctx, le); err != nil {
		return fmt.Errorf("attach to network %s: %w", p.net.Name, err)
	}
	return nil
}

// publish reserves host ports and returns the mappings and their rules.
func (m *Manager) publish(owner string, ep Endpoint, n *Network, reqs []PortRequest) ([]PortMapping, []firewall.Port, error) {
	var out []PortMapping
	var rules []firewall.Port
	fail := func(err error) ([]PortMapping, []firewall.Port, error) {
		m.ports.release(owner)
		return nil, nil, err
	}
	for _, r := range reqs {
		if r.Proto != "tcp" && r.Proto != "udp" {
			return fail(fmt.Errorf("unsupported protocol %s for port %d: Shoal publishes tcp and udp: %w", r.Proto, r.ContainerPort, errdefs.ErrInvalidArgument))
		}
		if r.HostIP.IsValid() && r.HostIP.Is6() && !ep.IPv6.IsValid() {
			return fail(fmt.Errorf("cannot publish %s on IPv6 address %s: the container has no IPv6 address on network %s: %w", portString(r), r.HostIP, n.Name, errdefs.ErrInvalidArgument))
		}
		keys := func(port uint16) []portKey {
			if r.HostIP.IsValid() {
				return []portKey{{proto: r.Proto, ip: r.HostIP, port: port}}
			}
			ks := []portKey{}
			if ep.IPv4.IsValid() {
				ks = append(ks, portKey{proto: r.Proto, ip: netip.IPv4Unspecified(), port: port})
			}
			// The IPv6 side: in the kernel for an IPv6 container, through
			// the proxy for ::1 and for an IPv4-only container (TCP), as
			// dockerd publishes on [::] too.
			if ep.IPv6.IsValid() || (r.Proto == "tcp" && m.hostIPv6()) {
				ks = append(ks, portKey{proto: r.Proto, ip: netip.IPv6Unspecified(), port: port})
			}
			return ks
		}
		proxy := func(k portKey) netip.AddrPort {
			return proxyTarget(ep, k.proto, k.ip, r.ContainerPort)
		}
		port, err := m.ports.pick(owner, r.HostPortStart, r.HostPortEnd, keys, proxy)
		if err != nil {
			return fail(err)
		}
		for _, k := range keys(port) {
			pm := PortMapping{Proto: r.Proto, ContainerPort: r.ContainerPort, HostIP: k.ip, HostPort: port}
			out = append(out, pm)
			if fp, ok := firewallPort(owner, ep, n, pm); ok {
				rules = append(rules, fp)
			}
		}
	}
	return out, rules, nil
}

func portString(r PortRequest) string {
	return fmt.Sprintf("%d/%s", r.ContainerPort, r.Proto)
}

// proxyTarget is where the userland proxy of a published port relays
// to: only the IPv6 "any" side of a TCP port has one.
func proxyTarget(ep Endpoint, proto string, hostIP netip.Addr, port uint16) netip.AddrPort {
	if proto != "tcp" || hostIP != netip.IPv6Unspecified() {
		return netip.AddrPort{}
	}
	if ep.IPv6.IsValid() {
		return netip.AddrPortFrom(ep.IPv6.Addr(), port)
	}
	return netip.AddrPortFrom(ep.IPv4.Addr(), port)
}

// hostIPv6 says whether the daemon's namespace has IPv6 at all.
func (m *Manager) hostIPv6() bool {
	m.v6Once.Do(func() {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err == nil {
			ln.Close()
			m.v6 = true
		}
	})
	return m.v6
}

// firewallPort is the rule of a published port: to the container's
// address of the host address's family.
func firewallPort(owner string, ep Endpoint, n *Network, p PortMapping) (firewall.Port, bool) {
	target := ep.IPv4
	if p.HostIP.Is6() {
		target = ep.IPv6
	}
	if !target.IsValid() {
		// The IPv6 side of an IPv4-only container: the proxy's.
		return firewall.Port{}, false
	}
	hostIP := p.HostIP
	if hostIP.IsUnspecified() {
		hostIP = netip.Addr{}
	}
	return firewall.Port{Owner: owner, Proto: p.Proto, HostIP: hostIP, HostPort: p.HostPort,
		ContainerIP: target.Addr(), ContainerPort: p.ContainerPort, Bridge: n.Bridge}, true
}

// links resolves legacy --link requests into /etc/hosts lines.
func (m *Manager) links(planned []*plannedEndpoint) ([]string, error) {
	var out []string
	for _, p := range planned {
		for _, l := range p.req.Links {
			name, alias, _ := strings.Cut(l, ":")
			name = strings.TrimPrefix(name, "/")
			if alias == "" {
				alias = name
			}
			alias = strings.TrimPrefix(alias[strings.LastIndex(alias, "/")+1:], "/")
			ip, ok := m.addressOf(name, p.net.ID)
			if !ok {
				return nil, fmt.Errorf("could not get container for %s: %w", name, errdefs.ErrInvalidArgument)
			}
			if alias == name {
				out = append(out, fmt.Sprintf("%s\t%s", ip, name))
			} else {
				out = append(out, fmt.Sprintf("%s\t%s %s", ip, alias, name))
			}
		}
	}
	return out, nil
}

// addressOf is the IPv4 address (or IPv6, when it has no v4) the named
// container has on network netID.
func (m *Manager) addressOf(name, netID string) (netip.Addr, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for id, s := range m.sandboxes {
		if s.Name != name && id != name && !(len(name) >= 12 && strings.HasPrefix(id, name)) {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.NetworkID != netID {
				continue
			}
			if ep.IPv4.IsValid() {
				return ep.IPv4.Addr(), true
			}
			if ep.IPv6.IsValid() {
				return ep.IPv6.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}

// serveDNS publishes a sandbox's records and, when it is on a
// user-defined network, answers DNS inside its namespace.
func (m *Manager) serveDNS(ctx context.Context, sb *Sandbox) error {
	if !sb.UsesEmbeddedDNS() {
		return nil
	}
	for _, ep := range sb.Endpoints {
		if len(ep.DNSNames) == 0 {
			continue
		}
		var addrs []netip.Addr
		for _, a := range []netip.Prefix{ep.IPv4, ep.IPv6} {
			if a.IsValid() {
				addrs = append(addrs, a.Addr())
			}
		}
		m.rec.Set(sb.ContainerID, ep.NetworkName, ep.DNSNames, addrs)
	}
	id := sb.ContainerID
	scope := func() []string {
		m.mu.RLock()
		defer m.mu.RUnlock()
		s := m.sandboxes[id]
		if s == nil {
			return nil
		}
		var nets []string
		for _, ep := range s.Endpoints {
			if len(ep.DNSNames) > 0 {
				nets = append(nets, ep.NetworkName)
			}
		}
		return nets
	}
	var own func() []netip.AddrPort
	if ups := sb.Upstreams; len(ups) > 0 {
		own = func() []netip.AddrPort { return ups }
	}
	if err := m.dns.ListenWith(ctx, id, sb.NetNS, scope, own); err != nil {
		m.rec.RemoveOwner(id)
		return fmt.Errorf("start embedded DNS: %w", err)
	}
	return nil
}

// Sandbox returns a container's network stack, if it has one.
func (m *Manager) Sandbox(id string) (*Sandbox, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.sandboxes[id]
	if !ok || s.NetNS == "" {
		return nil, false
	}
	return s.clone(), true
}

// Teardown removes a container's network stack: DNS, ports, endpoints,
// namespace and addresses. Missing pieces are not errors.
func (m *Manager) Teardown(ctx context.Context, id string) error {
	m.mu.RLock()
	sb, ok := m.sandboxes[id]
	m.mu.RUnlock()
	if !ok {
		return nil
	}
	var errs []error
	m.dns.Close(id)
	m.rec.RemoveOwner(id)
	if len(sb.Ports) > 0 {
		if err := m.fw.RemovePorts(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("unpublish ports: %w", err))
		}
	}
	m.ports.release(id)
	for _, ep := range sb.Endpoints {
		if err := link.RemoveEndpoint(ep.HostIfName); err != nil {
			errs = append(errs, fmt.Errorf("remove endpoint %s: %w", ep.HostIfName, err))
		}
	}
	if err := link.DeleteNetNS(sb.NetNS); err != nil {
		errs = append(errs, fmt.Errorf("remove network namespace: %w", err))
	}
	for _, ep := range sb.Endpoints {
		if err := m.ipam.ReleaseOwner(ep.NetworkID, id); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release addresses on %s: %w", ep.NetworkName, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := m.db.delete(bucketSandboxes, id); err != nil {
		return fmt.Errorf("forget network stack of %s: %w", id, err)
	}
	m.mu.Lock()
	if m.sandboxes[id] == sb {
		for _, ep := range sb.Endpoints {
			m.users[ep.NetworkID]--
		}
		delete(m.sandboxes, id)
	}
	m.mu.Unlock()
	return nil
}

// Restore brings the kernel in line with the stored state after a daemon
// (re)start: running containers get their ports and DNS back, stacks of
// containers no longer running are torn down, and whatever veths,
// bridges and rules Shoal made but no longer knows are removed.
func (m *Manager) Restore(ctx context.Context, running func(id string) bool) error {
	m.mu.RLock()
	var sbs []*Sandbox
	for _, s := range m.sandboxes {
		sbs = append(sbs, s)
	}
	m.mu.RUnlock()
	var errs []error
	for _, s := range sbs {
		if !running(s.ContainerID) {
			if err := m.Teardown(ctx, s.ContainerID); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		for _, p := range s.Ports {
			k := portKey{proto: p.Proto, ip: p.HostIP, port: p.HostPort}
			m.ports.mu.Lock()
			err := m.ports.reserve(s.ContainerID, k, proxyTarget(s.Endpoints[0], p.Proto, p.HostIP, p.ContainerPort))
			m.ports.mu.Unlock()
			if err != nil {
				m.log.Warn("re-reserve published port", "container_id", s.ContainerID, "port", p.HostPort, "err", err)
			}
		}
		if err := m.serveDNS(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, m.reconcile(ctx))...)
}

// reconcile makes rules, bridges and veths exactly what the stored state
// says.
func (m *Manager) reconcile(ctx context.Context) error {
	m.mu.RLock()
	st := firewall.State{}
	bridges := map[string]bool{}
	var nets []*Network
	for _, n := range m.nets {
		if n.IsBridge() {
			st.Networks = append(st.Networks, firewallNetwork(n))
			bridges[n.Bridge] = true
			nets = append(nets, n)
		}
	}
	veths := map[string]bool{}
	for _, s := range m.sandboxes {
		for _, ep := range s.Endpoints {
			veths[ep.HostIfName] = true
		}
		var n *Network
		if len(s.Endpoints) > 0 {
			n = m.nets[s.Endpoints[0].NetworkID]
		}
		for _, p := range s.Ports {
			if n == nil {
				continue
			}
			if fp, ok := firewallPort(s.ContainerID, s.Endpoints[0], n, p); ok {
				st.Ports = append(st.Ports, fp)
			}
		}
	}
	m.mu.RUnlock()
	var errs []error
	for _, n := range nets {
		if err := m.ensureKernel(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	// No bridge and no port: no table at all (a --bridge=none daemon
	// leaves the host's nftables as it found them), and only if this
	// daemon made it: a table of that name may be another's.
	if len(st.Networks) == 0 && len(st.Ports) == 0 {
		if m.db.getMeta(keyTable) {
			if err := m.fw.Flush(ctx); err != nil {
				errs = append(errs, fmt.Errorf("reconcile firewall rules: %w", err))
			} else if err := m.db.delete(bucketMeta, keyTable); err != nil {
				errs = append(errs, err)
			}
		}
	} else if err := m.markTable(); err != nil {
		errs = append(errs, err)
	} else if err := m.fw.Apply(ctx, st); err != nil {
		errs = append(errs, fmt.Errorf("reconcile firewall rules: %w", err))
	}
	for _, prefix := range []string{vethPrefix, bridgePrefix} {
		names, err := link.ListLinks(prefix)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, name := range names {
			if veths[name] || bridges[name] {
				continue
			}
			m.log.Info("removing a stale link", "link", name)
			if prefix == bridgePrefix {
				err = link.DeleteBridge(name)
			} else {
				err = link.RemoveEndpoint(name)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Namespace files of containers that have no stack any more.
	ents, _ := os.ReadDir(filepath.Join(m.cfg.ExecRoot, "netns"))
	for _, e := range ents {
		m.mu.RLock()
		_, known := m.sandboxes[e.Name()]
		m.mu.RUnlock()
		if !known {
			_ = link.DeleteNetNS(filepath.Join(m.cfg.ExecRoot, "netns", e.Name()))
		}
	}
	return errors.Join(errs...)
}

// Connect attaches a running container's stack to one more network.
func (m *Manager) Connect(ctx context.Context, id, name string, er EndpointRequest) (*Sandbox, error) {
	m.mu.Lock()
	sb, ok := m.sandboxes[id]
	if !ok {
		m.mu.Unlock()
		return nil, fmt.Errorf("container %s has no network stack: %w", id, errdefs.ErrFailedPrecondition)
	}
	n, err := m.lookupLocked(er.Network)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	if !n.IsBridge() {
		m.mu.Unlock()
		return nil, fmt.Errorf("container cannot be disconnected from host network or connected to host network: %w", errdefs.ErrPermissionDenied)
	}
	for _, ep := range sb.Endpoints {
		if ep.NetworkID == n.ID {
			m.mu.Unlock()
			return nil, fmt.Errorf("endpoint with name %s already exists in network %s: %w", name, n.Name, errdefs.ErrPermissionDenied)
		}
	}
	m.users[n.ID]++
	index := nextIfIndex(sb.Endpoints)
	n = n.clone()
	m.mu.Unlock()
	p := &plannedEndpoint{net: n, req: er}
	undo := func() {
		_ = m.ipam.ReleaseOwner(n.ID, id)
		m.mu.Lock()
		m.users[n.ID]--
		m.mu.Unlock()
	}
	p.ep, err = m.allocate(n, SandboxRequest{ContainerID: id, Name: name}, er, index)
	if err != nil {
		undo()
		return nil, err
	}
	if err := m.plumb(ctx, sb.NetNS, p, false); err != nil {
		undo()
		return nil, err
	}
	m.mu.Lock()
	next := sb.clone()
	next.Endpoints = append(next.Endpoints, p.ep)
	m.sandboxes[id] = next
	m.mu.Unlock()
	wasDNS := sb.UsesEmbeddedDNS()
	if err := m.db.put(bucketSandboxes, id, next); err != nil {
		m.log.Warn("save network stack", "container_id", id, "err", err)
	}
	if len(p.ep.DNSNames) > 0 {
		var addrs []netip.Addr
		for _, a := range []netip.Prefix{p.ep.IPv4, p.ep.IPv6} {
			if a.IsValid() {
				addrs = append(addrs, a.Addr())
			}
		}
		m.rec.Set(id, n.Name, p.ep.DNSNames, addrs)
		if !wasDNS {
			if err := m.serveDNS(ctx, next); err != nil {
				m.log.Warn("start embedded DNS", "container_id", id, "err", err)
			}
		}
	}
	return next.clone(), nil
}

func nextIfIndex(eps []Endpoint) int {
	used := map[string]bool{}
	for _, ep := range eps {
		used[ep.IfName] = true
	}
	for i := 0; ; i++ {
		if !used[fmt.Sprintf("eth%d", i)] {
			return i
		}
	}
}

// Disconnect detaches a running container's stack from a network.
func (m *Manager) Disconnect(ctx context.Context, id, network string) error {
	m.mu.Lock()
	sb, ok := m.sandboxes[id]
	if !ok {
		m.mu.Unlock()
		return fmt.Errorf("container %s has no network stack: %w", id, errdefs.ErrFailedPrecondition)
	}
	n, err := m.lookupLocked(network)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	next := sb.clone()
	next.Endpoints = next.Endpoints[:0]
	var gone *Endpoint
	for _, ep := range sb.Endpoints {
		if ep.NetworkID == n.ID {
			e := ep
			gone = &e
			continue
		}
		next.Endpoints = append(next.Endpoints, ep)
	}
	if gone == nil {
		m.mu.Unlock()
		return fmt.Errorf("container %s is not connected to network %s: %w", id[:min(12, len(id))], n.Name, errdefs.ErrPermissionDenied)
	}
	m.sandboxes[id] = next
	m.users[n.ID]--
	m.mu.Unlock()
	m.rec.Remove(id, n.Name)
	if !next.UsesEmbeddedDNS() {
		m.dns.Close(id)
	}
	var errs []error
	if err := link.RemoveEndpoint(gone.HostIfName); err != nil {
		errs = append(errs, err)
	}
	if err := m.ipam.ReleaseOwner(n.ID, id); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, err)
	}
	if err := m.db.put(bucketSandboxes, id, next); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
