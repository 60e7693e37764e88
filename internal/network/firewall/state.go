package firewall

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// DefaultTable is the table name used when Config.Table is empty.
const DefaultTable = "shoal"

// Network is the rules of one bridge network.
type Network struct {
	// Bridge is the name of the network's bridge device.
	Bridge string
	// Subnets are the network's address ranges (IPv4 and/or IPv6).
	Subnets []netip.Prefix
	// Internal cuts the network off: nothing is forwarded into or out of
	// the bridge except between its own ports.
	Internal bool
	// Masquerade NATs traffic from the subnets leaving through any other
	// interface (egress). It is ignored, and reads back false, for an
	// internal network.
	Masquerade bool
	// ICC allows traffic between containers of the network. When false,
	// traffic in and out of the bridge itself is dropped (this only
	// matters when br_netfilter passes bridged frames through iptables
	// hooks), except for published ports.
	ICC bool
}

// Port is one published port: HostPort on the host DNATed to
// ContainerIP:ContainerPort.
type Port struct {
	// Owner is the ID of the container the port belongs to.
	Owner string
	// Proto is "tcp", "udp" or "sctp".
	Proto string
	// HostIP is the host address the port is published on; the zero
	// Addr or an unspecified address (0.0.0.0, ::) means every local
	// address of ContainerIP's family. It must be of ContainerIP's
	// family otherwise.
	HostIP   netip.Addr
	HostPort uint16
	// ContainerIP and ContainerPort are the DNAT target.
	ContainerIP   netip.Addr
	ContainerPort uint16
	// Bridge is the bridge of the network ContainerIP is on.
	Bridge string
}

// State is the whole content of Shoal's table, as plain values.
type State struct {
	Networks []Network
	Ports    []Port
}

// family is the address family a port's rule matches.
func (p Port) family() int {
	if p.ContainerIP.Is4() {
		return 4
	}
	return 6
}

// key is what two ports must not share: one host socket address.
type portKey struct {
	proto  string
	family int
	hostIP netip.Addr // zero for any
	port   uint16
}

func (p Port) key() portKey {
	k := portKey{proto: p.Proto, family: p.family(), port: p.HostPort}
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		k.hostIP = p.HostIP
	}
	return k
}

func (p Port) String() string {
	host := "*"
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
	}
	return fmt.Sprintf("%s %s:%d->%s/%s", p.Owner, host, p.HostPort,
		netip.AddrPortFrom(p.ContainerIP, p.ContainerPort), p.Proto)
}

// validIfName reports whether s can be a Linux interface name.
func validIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsAny(s, "/: \t\n\r\x00")
}

// normalizeNetwork checks n and returns its canonical form: masked,
// sorted, deduplicated subnets, and no masquerade on internal networks.
func normalizeNetwork(n Network) (Network, error) {
	if !validIfName(n.Bridge) {
		return n, fmt.Errorf("network rules: invalid bridge name %q: %w", n.Bridge, errdefs.ErrInvalidArgument)
	}
	out := n
	out.Subnets = nil
	for _, s := range n.Subnets {
		if !s.IsValid() || s.Addr().Zone() != "" {
			return n, fmt.Errorf("network rules of %s: invalid subnet %v: %w", n.Bridge, s, errdefs.ErrInvalidArgument)
		}
		if s.Addr().Is4In6() {
			s = netip.PrefixFrom(s.Addr().Unmap(), max(s.Bits()-96, 0))
		}
		out.Subnets = append(out.Subnets, s.Masked())
	}
	slices.SortFunc(out.Subnets, comparePrefix)
	out.Subnets = slices.Compact(out.Subnets)
	if out.Internal {
		out.Masquerade = false
	}
	return out, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// normalizeProto returns the canonical protocol name.
func normalizeProto(p string) (string, bool) {
	p = strings.ToLower(p)
	switch p {
	case "tcp", "udp", "sctp":
		return p, true
	}
	return p, false
}

// normalizePort checks p and returns its canonical form.
func normalizePort(p Port) (Port, error) {
	bad := func(what string) (Port, error) {
		return p, fmt.Errorf("port rule %s: %s: %w", p, what, errdefs.ErrInvalidArgument)
	}
	if p.Owner == "" || strings.ContainsAny(p.Owner, " \t\n\r\x00") {
		return bad("invalid owner")
	}
	proto, ok := normalizeProto(p.Proto)
	if !ok {
		return bad("unsupported protocol")
	}
	p.Proto = proto
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return bad("port 0")
	}
	if !validIfName(p.Bridge) {
		return bad("invalid bridge name")
	}
	if !p.ContainerIP.IsValid() || p.ContainerIP.Zone() != "" || p.ContainerIP.IsUnspecified() {
		return bad("invalid container address")
	}
	p.ContainerIP = p.ContainerIP.Unmap()
	if p.HostIP.IsValid() {
		if p.HostIP.Zone() != "" {
			return bad("host address with a zone")
		}
		p.HostIP = p.HostIP.Unmap()
		if p.HostIP.Is4() != p.ContainerIP.Is4() {
			return bad("host and container addresses of different families")
		}
	}
	return p, nil
}

// normalize checks s and returns its canonical form: networks sorted by
// bridge, ports sorted and deduplicated. Two networks on one bridge are
// invalid; two different ports on one host address, port and protocol
// (or one on any address and one on a specific address of the same
// family) conflict.
func normalize(s State) (State, error) {
	var out State
	byBridge := map[string]Network{}
	for _, n := range s.Networks {
		n, err := normalizeNetwork(n)
		if err != nil {
			return State{}, err
		}
		if old, ok := byBridge[n.Bridge]; ok {
			if !networkEqual(old, n) {
				return State{}, fmt.Errorf("network rules: two networks on bridge %s: %w", n.Bridge, errdefs.ErrInvalidArgument)
			}
			continue
		}
		byBridge[n.Bridge] = n
		out.Networks = append(out.Networks, n)
	}
	slices.SortFunc(out.Networks, func(a, b Network) int { return strings.Compare(a.Bridge, b.Bridge) })

	for _, p := range s.Ports {
		p, err := normalizePort(p)
		if err != nil {
			return State{}, err
		}
		out.Ports = append(out.Ports, p)
	}
	slices.SortFunc(out.Ports, comparePort)
	out.Ports = slices.Compact(out.Ports)
	if err := checkPortConflicts(out.Ports); err != nil {
		return State{}, err
	}
	return out, nil
}

// checkPortConflicts fails with ErrConflict when two ports would catch
// the same packets.
func checkPortConflicts(ports []Port) error {
	seen := map[portKey]Port{}
	for _, p := range ports {
		k := p.key()
		if old, ok := seen[k]; ok {
			return portConflict(old, p)
		}
		seen[k] = p
	}
	// Any-address against specific-address of the same family.
	for k, p := range seen {
		if !k.hostIP.IsValid() {
			continue
		}
		wild := k
		wild.hostIP = netip.Addr{}
		if old, ok := seen[wild]; ok {
			return portConflict(old, p)
		}
	}
	return nil
}

func portConflict(a, b Port) error {
	return fmt.Errorf("port rules %s and %s: same host port: %w", a, b, errdefs.ErrConflict)
}

func comparePort(a, b Port) int {
	return cmp.Or(
		strings.Compare(a.Owner, b.Owner),
		strings.Compare(a.Proto, b.Proto),
		a.HostIP.Compare(b.HostIP),
		cmp.Compare(a.HostPort, b.HostPort),
		a.ContainerIP.Compare(b.ContainerIP),
		cmp.Compare(a.ContainerPort, b.ContainerPort),
		strings.Compare(a.Bridge, b.Bridge),
	)
}

func networkEqual(a, b Network) bool {
	return a.Bridge == b.Bridge && a.Internal == b.Internal && a.Masquerade == b.Masquerade &&
		a.ICC == b.ICC && slices.Equal(a.Subnets, b.Subnets)
}
