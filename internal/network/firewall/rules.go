package firewall

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Chain names in Shoal's table (see doc.go for what each holds).
const (
	chainForward    = "forward"
	chainInternal   = "forward-internal"
	chainPublished  = "forward-published"
	chainIsolation  = "forward-isolation"
	chainPrerouting = "prerouting"
	chainOutput     = "output"
	chainDNAT       = "dnat"
	chainPostrout   = "postrouting"
)

// chainSpec is one chain of the table. A fixed chain holds only the
// table's skeleton rules, whose order matters: it is rewritten whole when
// it differs. The rules of the other chains are all drops, all accepts or
// all NAT statements whose matches never overlap in a way order could
// change, so they are added and deleted one by one.
type chainSpec struct {
	name   string
	hook   *nftables.ChainHook
	prio   *nftables.ChainPriority
	typ    nftables.ChainType
	fixed  bool
	policy bool // base chain with policy accept
}

// chainSpecs lists the chains in creation order: jump targets before
// the chains that jump to them.
var chainSpecs = []chainSpec{
	{name: chainInternal},
	{name: chainPublished},
	{name: chainIsolation},
	{name: chainDNAT},
	{name: chainForward, hook: nftables.ChainHookForward, prio: nftables.ChainPriorityFilter, typ: nftables.ChainTypeFilter, fixed: true, policy: true},
	{name: chainPrerouting, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityNATDest, typ: nftables.ChainTypeNAT, fixed: true, policy: true},
	{name: chainOutput, hook: nftables.ChainHookOutput, prio: nftables.ChainPriorityNATDest, typ: nftables.ChainTypeNAT, fixed: true, policy: true},
	{name: chainPostrout, hook: nftables.ChainHookPostrouting, prio: nftables.ChainPriorityNATSource, typ: nftables.ChainTypeNAT, policy: true},
}

func chainSpecOf(name string) (chainSpec, bool) {
	for _, c := range chainSpecs {
		if c.name == name {
			return c, true
		}
	}
	return chainSpec{}, false
}

// ipsDstNAT is the conntrack status bit of a DNATed connection
// (IPS_DST_NAT in linux/netfilter/nf_conntrack_common.h).
const ipsDstNAT = 1 << 5

// rule is one rule to be in the table.
type rule struct {
	chain string
	tag   string
	exprs []expr.Any
}

// plan returns the rules of the normalized state s, by chain, in order.
func plan(s State) (map[string][]rule, error) {
	out := map[string][]rule{}
	add := func(chain, tag string, exprs ...expr.Any) error {
		if err := checkTag(tag); err != nil {
			return err
		}
		out[chain] = append(out[chain], rule{chain: chain, tag: tag, exprs: exprs})
		return nil
	}
	// The skeleton. Accepting established traffic first means the drops
	// below only ever see new connections.
	skeleton := []struct {
		chain, role string
		exprs       []expr.Any
	}{
		{chainForward, "established", cat(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept))},
		{chainForward, "jump-internal", jump(chainInternal)},
		{chainForward, "jump-published", jump(chainPublished)},
		{chainForward, "jump-isolation", jump(chainIsolation)},
		{chainPrerouting, "prerouting-dnat", cat(fibDaddrLocal(), jump(chainDNAT))},
		// ::1 cannot be DNATed to a container (the kernel drops a
		// loopback source on a bridge); the daemon's userland proxy
		// answers it instead.
		{chainOutput, "output-v6-loopback", cat(nfproto(unix.NFPROTO_IPV6), addrMatch(false, netip.IPv6Loopback()), verdict(expr.VerdictReturn))},
		{chainOutput, "output-dnat", cat(fibDaddrLocal(), jump(chainDNAT))},
	}
	for _, r := range skeleton {
		if err := add(r.chain, baseTag(r.role), r.exprs...); err != nil {
			return nil, err
		}
	}

	for _, n := range s.Networks {
		if err := planNetwork(n, add); err != nil {
			return nil, err
		}
	}
	for _, p := range s.Ports {
		if err := add(chainDNAT, portTag(p), dnatExprs(p)...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func planNetwork(n Network, add func(chain, tag string, exprs ...expr.Any) error) error {
	br := n.Bridge
	var err error
	try := func(chain, role string, exprs ...expr.Any) {
		if err == nil {
			err = add(chain, netTag(n, role), exprs...)
		}
	}
	if n.Internal {
		// Nothing leaves or enters the bridge but to or from itself.
		try(chainInternal, "internal-out", cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), verdict(expr.VerdictDrop))...)
		try(chainInternal, "internal-in", cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), verdict(expr.VerdictDrop))...)
	} else {
		// Into the bridge: published ports (DNATed) are accepted ...
		try(chainPublished, "published", cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ctStatus(ipsDstNAT), verdict(expr.VerdictAccept))...)
		// ... anything else new from elsewhere, other Shoal bridges
		// included, is not.
		try(chainIsolation, "inbound", cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyIIFNAME, expr.CmpOpNeq, br), verdict(expr.VerdictDrop))...)
	}
	if !n.ICC {
		try(chainIsolation, "no-icc", cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, br), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), verdict(expr.VerdictDrop))...)
	}
	if !n.Internal {
		for _, s := range n.Subnets {
			if n.Masquerade {
				try(chainPostrout, "masq:"+s.String(), cat(saddrIn(s), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, br), masq())...)
			}
			// Hairpin: a container reaching a published port of its
			// own network through a host address. Without this the
			// reply would go straight back over the bridge, not
			// through the host's conntrack.
			try(chainPostrout, "hairpin:"+s.String(), cat(saddrIn(s), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), ctStatus(ipsDstNAT), masq())...)
		}
		// The host reaching a published port on 127.0.0.1 (needs
		// route_localnet=1 on the bridge).
		try(chainPostrout, "localhost", cat(saddrIn(netip.MustParsePrefix("127.0.0.0/8")), ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, br), masq())...)
	}
	return err
}

// dnatExprs is the rule of one published port.
func dnatExprs(p Port) []expr.Any {
	family, regs := uint32(unix.NFPROTO_IPV4), nfproto(unix.NFPROTO_IPV4)
	if p.family() == 6 {
		family, regs = unix.NFPROTO_IPV6, nfproto(unix.NFPROTO_IPV6)
	}
	e := regs
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		e = append(e, addrMatch(false, p.HostIP)...)
	}
	e = append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{l4proto(p.Proto)}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: p.ContainerIP.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: family, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	return e
}

func l4proto(p string) byte {
	switch p {
	case "udp":
		return unix.IPPROTO_UDP
	case "sctp":
		return unix.IPPROTO_SCTP
	}
	return unix.IPPROTO_TCP
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

// ifname matches the input or output interface name exactly.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: b},
	}
}

// ctBits matches when any of mask's bits are set in the 32-bit value of
// the conntrack key.
func ctBits(key expr.CtKey, mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

func ctState(bits uint32) []expr.Any { return ctBits(expr.CtKeySTATE, bits) }

func ctStatus(bits uint32) []expr.Any { return ctBits(expr.CtKeySTATUS, bits) }

func fibDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func nfproto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// addrOffset is where the source or destination address is in the
// network header, and its length.
func addrOffset(src, v4 bool) (off, n uint32) {
	switch {
	case v4 && src:
		return 12, 4
	case v4:
		return 16, 4
	case src:
		return 8, 16
	}
	return 24, 16
}

// addrMatch matches the source or destination address exactly; the
// packet's family must have been matched before.
func addrMatch(src bool, a netip.Addr) []expr.Any {
	off, n := addrOffset(src, a.Is4())
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// saddrIn matches packets of p's family whose source is in p.
func saddrIn(p netip.Prefix) []expr.Any {
	v4 := p.Addr().Is4()
	e := nfproto(unix.NFPROTO_IPV6)
	if v4 {
		e = nfproto(unix.NFPROTO_IPV4)
	}
	if p.Bits() == 0 {
		return e
	}
	off, n := addrOffset(true, v4)
	e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
	if p.Bits() < p.Addr().BitLen() {
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: prefixMask(p), Xor: make([]byte, n)})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()})
}

func prefixMask(p netip.Prefix) []byte {
	m := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return m
}

// describe is a rule for log and error messages.
func (r rule) String() string { return fmt.Sprintf("%s: %s", r.chain, r.tag) }
