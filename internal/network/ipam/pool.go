package ipam

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Pool is one subnet of a network and the addresses it sets aside.
type Pool struct {
	// Subnet is the network's prefix, canonical (no host bits set).
	Subnet netip.Prefix
	// IPRange is the part of Subnet that Allocate hands out addresses
	// from when none is asked for; the zero Prefix means all of Subnet.
	// An address asked for by name may lie anywhere in Subnet.
	IPRange netip.Prefix
	// Gateway is the bridge's address in Subnet; never handed out.
	Gateway netip.Addr
	// Aux are named addresses in Subnet that are never handed out
	// (docker network create --aux-address name=addr).
	Aux map[string]netip.Addr
}

// ParsePool parses and checks one subnet of docker network create
// (--subnet, --ip-range, --gateway, --aux-address) as dockerd does, with
// dockerd's messages: structural complaints are all reported at once
// ("invalid network config:\n..."), then the gateway and auxiliary
// addresses must be free to reserve. An empty ipRange means the whole
// subnet; an empty gateway means the first address of the IP range (or
// subnet) that can be handed out, as dockerd picks it. Errors are of
// class errdefs.ErrInvalidArgument.
func ParsePool(subnet, ipRange, gateway string, aux map[string]string) (Pool, error) {
	sn, err := netip.ParsePrefix(subnet)
	if err != nil {
		return Pool{}, configError([]error{fmt.Errorf("invalid subnet %s: invalid CIDR block notation", subnet)})
	}
	p := Pool{Subnet: sn}
	var errs []error
	if sn != sn.Masked() {
		errs = append(errs, fmt.Errorf("invalid subnet %s: it should be %s", sn, sn.Masked()))
	}
	if ipRange != "" {
		r, err := netip.ParsePrefix(ipRange)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid ip-range %s: invalid CIDR block notation", ipRange))
		} else {
			p.IPRange = r
			errs = append(errs, checkRange(r, sn)...)
		}
	}
	if gateway != "" {
		g, err := netip.ParseAddr(gateway)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid gateway %s: invalid address", gateway))
		} else {
			p.Gateway = g
			if err := checkAddr(g, sn); err != nil {
				errs = append(errs, fmt.Errorf("invalid gateway %s: %w", gateway, err))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(aux)) {
		a, err := netip.ParseAddr(aux[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid auxiliary address %s: invalid address", name))
			continue
		}
		if p.Aux == nil {
			p.Aux = make(map[string]netip.Addr, len(aux))
		}
		p.Aux[name] = a
		if err := checkAddr(a, sn); err != nil {
			errs = append(errs, fmt.Errorf("invalid auxiliary address %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return Pool{}, configError(errs)
	}
	return p.complete()
}

// validate checks p's structure as ParsePool does (without the parse
// errors), for pools built by hand.
func (p Pool) validate() error {
	if !p.Subnet.IsValid() {
		return fmt.Errorf("invalid subnet %s: invalid CIDR block notation: %w", p.Subnet, errdefs.ErrInvalidArgument)
	}
	var errs []error
	if p.Subnet != p.Subnet.Masked() {
		errs = append(errs, fmt.Errorf("invalid subnet %s: it should be %s", p.Subnet, p.Subnet.Masked()))
	}
	if p.IPRange.IsValid() {
		errs = append(errs, checkRange(p.IPRange, p.Subnet)...)
	}
	if p.Gateway.IsValid() {
		if err := checkAddr(p.Gateway, p.Subnet); err != nil {
			errs = append(errs, fmt.Errorf("invalid gateway %s: %w", p.Gateway, err))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Aux)) {
		if err := checkAddr(p.Aux[name], p.Subnet); err != nil {
			errs = append(errs, fmt.Errorf("invalid auxiliary address %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return configError(errs)
	}
	return nil
}

// complete fills in the default gateway and checks that the gateway and
// auxiliary addresses can be reserved, as dockerd does when it creates
// the network: the gateway first, then the auxiliary addresses in name
// order. p's structure must be valid. The returned Pool owns its Aux map.
func (p Pool) complete() (Pool, error) {
	base := baseReserved(p.Subnet)
	if p.Gateway.IsValid() {
		if base[p.Gateway] {
			return Pool{}, fmt.Errorf("failed to allocate gateway (%s): %s: %w", p.Gateway, msgInUse, errdefs.ErrInvalidArgument)
		}
	} else {
		gw, ok := firstFree(p.allocRange(), base)
		if !ok {
			return Pool{}, fmt.Errorf("failed to allocate gateway (): %s: %w", msgNoAvailable, errdefs.ErrInvalidArgument)
		}
		p.Gateway = gw
	}
	taken := maps.Clone(base)
	taken[p.Gateway] = true
	var aux map[string]netip.Addr
	for _, name := range slices.Sorted(maps.Keys(p.Aux)) {
		a := p.Aux[name]
		if taken[a] {
			return Pool{}, fmt.Errorf("failed to allocate secondary ip address (%s:%s): %s: %w", name, a, msgInUse, errdefs.ErrInvalidArgument)
		}
		taken[a] = true
		if aux == nil {
			aux = make(map[string]netip.Addr, len(p.Aux))
		}
		aux[name] = a
	}
	p.Aux = aux
	return p, nil
}

// allocRange is the prefix Allocate picks addresses from.
func (p Pool) allocRange() netip.Prefix {
	if p.IPRange.IsValid() {
		return p.IPRange
	}
	return p.Subnet
}

// reserved is every address of p that is never handed out.
func (p Pool) reserved() map[netip.Addr]bool {
	r := baseReserved(p.Subnet)
	r[p.Gateway] = true
	for _, a := range p.Aux {
		r[a] = true
	}
	return r
}

// baseReserved is what dockerd sets aside in every subnet: the first
// address (IPv4 network address, IPv6 subnet-router anycast) and the IPv4
// broadcast address, except in IPv4 /31 and /32 (RFC 3021).
func baseReserved(subnet netip.Prefix) map[netip.Addr]bool {
	r := map[netip.Addr]bool{}
	host := subnet.Addr().BitLen() - subnet.Bits()
	if subnet.Addr().Is6() || host > 1 {
		r[subnet.Addr()] = true
	}
	if subnet.Addr().Is4() && host > 1 {
		r[lastAddr(subnet)] = true
	}
	return r
}

// firstFree is the lowest address of r that is not in taken.
func firstFree(r netip.Prefix, taken map[netip.Addr]bool) (netip.Addr, bool) {
	last := lastAddr(r)
	for a := r.Addr(); a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
		if !taken[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// checkRange is dockerd's check of an ip-range against its subnet.
func checkRange(r, subnet netip.Prefix) []error {
	if fam(r.Addr()) != fam(subnet.Addr()) {
		return []error{fmt.Errorf("invalid ip-range %s: parent subnet is an %s block", r, fam(subnet.Addr()))}
	}
	var errs []error
	if r.Bits() < subnet.Bits() {
		errs = append(errs, fmt.Errorf("invalid ip-range %s: CIDR block is bigger than its parent subnet %s", r, subnet))
	}
	if r != r.Masked() {
		errs = append(errs, fmt.Errorf("invalid ip-range %s: it should be %s", r, r.Masked()))
	}
	if !subnet.Overlaps(r) {
		errs = append(errs, fmt.Errorf("invalid ip-range %s: parent subnet %s doesn't contain ip-range", r, subnet))
	}
	return errs
}

// checkAddr is dockerd's check of a gateway or auxiliary address.
func checkAddr(a netip.Addr, subnet netip.Prefix) error {
	if fam(a) != fam(subnet.Addr()) {
		return fmt.Errorf("parent subnet is an %s block", fam(subnet.Addr()))
	}
	if !subnet.Contains(a) {
		return fmt.Errorf("parent subnet %s doesn't contain this address", subnet)
	}
	return nil
}

func fam(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// configError joins structural complaints as dockerd prints them: one
// on its own line, several as a bulleted list.
func configError(errs []error) error {
	var msg string
	if len(errs) == 1 {
		msg = strings.TrimSpace(errs[0].Error())
	} else {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			lines = append(lines, strings.ReplaceAll(e.Error(), "\n", "\n\t"))
		}
		msg = "* " + strings.Join(lines, "\n* ")
	}
	return fmt.Errorf("invalid network config:\n%s: %w", msg, errdefs.ErrInvalidArgument)
}

// Overlaps reports whether a and b share an address. Prefixes of
// different families, and invalid ones, never overlap.
func Overlaps(a, b netip.Prefix) bool {
	return a.IsValid() && b.IsValid() && a.Overlaps(b)
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// DefaultV4Pools is dockerd's default local address pools, in the order
// it allocates from them: 172.17.0.0/16 to 172.31.0.0/16, then the /20s
// of 192.168.0.0/16. The default bridge network normally takes the first.
func DefaultV4Pools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// DefaultV6Pools is the default for an IPv6 network created without a
// subnet: the 65536 /64s, in order, of a unique local /48 derived from
// hostID as dockerd (27 and later) derives it from its engine ID: fd00::/8
// followed by the low 40 bits of the first 8 bytes of SHA-256(hostID).
// The same hostID always yields the same prefixes.
func DefaultV6Pools(hostID string) []netip.Prefix {
	sum := sha256.Sum256([]byte(hostID))
	gid := binary.BigEndian.Uint64(sum[:8]) & (1<<40 - 1)
	var b [16]byte
	b[0] = 0xfd
	for i := range 5 {
		b[1+i] = byte(gid >> (8 * (4 - i)))
	}
	out := make([]netip.Prefix, 0, 1<<16)
	for i := range 1 << 16 {
		b[6], b[7] = byte(i>>8), byte(i)
		out = append(out, netip.PrefixFrom(netip.AddrFrom16(b), 64))
	}
	return out
}

// errNotAllocatable reports want outside every subnet of a network.
func errNotAllocatable(want netip.Addr) error {
	return fmt.Errorf("invalid address %s: It does not belong to any of this network's subnets: %w", want, errdefs.ErrInvalidArgument)
}

var errCorrupt = errors.New("corrupt ipam record")
