package firewall

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func sampleState() State {
	return State{
		Networks: []Network{
			{Bridge: "shoal0", Subnets: []netip.Prefix{pfx("fd00:dead:beef::/64"), pfx("172.17.0.0/16")}, Masquerade: true, ICC: true},
			{Bridge: "shv-int", Subnets: []netip.Prefix{pfx("10.20.0.0/24")}, Internal: true},
			{Bridge: "br-noicc", Subnets: []netip.Prefix{pfx("10.30.0.0/24")}, Masquerade: true},
		},
		Ports: []Port{
			{Owner: strings.Repeat("a", 64), Proto: "tcp", HostPort: 8080, ContainerIP: addr("172.17.0.2"), ContainerPort: 80, Bridge: "shoal0"},
			{Owner: strings.Repeat("a", 64), Proto: "udp", HostIP: addr("127.0.0.1"), HostPort: 5353, ContainerIP: addr("172.17.0.2"), ContainerPort: 53, Bridge: "shoal0"},
			{Owner: strings.Repeat("b", 64), Proto: "tcp", HostIP: addr("fd00:dead:beef::1"), HostPort: 8443, ContainerIP: addr("fd00:dead:beef::3"), ContainerPort: 443, Bridge: "shoal0"},
			{Owner: strings.Repeat("b", 64), Proto: "sctp", HostPort: 9000, ContainerIP: addr("fd00:dead:beef::3"), ContainerPort: 9000, Bridge: "shoal0"},
		},
	}
}

func TestTagRoundTrip(t *testing.T) {
	s, err := normalize(sampleState())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s.Networks {
		tg := netTag(n, "published")
		got, err := parseTag(tg)
		if err != nil {
			t.Fatalf("parseTag(%q): %v", tg, err)
		}
		if got.kind != kindNet || got.role != "published" || !networkEqual(got.net, n) {
			t.Errorf("parseTag(%q) = %+v, want %+v", tg, got, n)
		}
	}
	for _, p := range s.Ports {
		tg := portTag(p)
		if err := checkTag(tg); err != nil {
			t.Errorf("checkTag(%q): %v", tg, err)
		}
		got, err := parseTag(tg)
		if err != nil {
			t.Fatalf("parseTag(%q): %v", tg, err)
		}
		if got.kind != kindPort || got.port != p {
			t.Errorf("parseTag(%q) = %+v, want %+v", tg, got.port, p)
		}
	}
	ud := encodeUserData(baseTag("established"))
	if s, ok := decodeUserData(ud); !ok || s != baseTag("established") {
		t.Errorf("decodeUserData(encodeUserData) = %q, %v", s, ok)
	}
	for _, bad := range [][]byte{nil, {0}, {0, 9, 'x'}, {1, 1, 'x'}} {
		if s, ok := decodeUserData(bad); ok {
			t.Errorf("decodeUserData(%v) = %q, want none", bad, s)
		}
	}
	for _, bad := range []string{"", "shoal/0 base x", "shoal/1 net published br=x int=2 masq=0 icc=0 sub=", "shoal/1 port owner=a"} {
		if _, err := parseTag(bad); err == nil {
			t.Errorf("parseTag(%q) succeeded", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := State{Networks: []Network{{Bridge: "b", Subnets: []netip.Prefix{pfx("10.0.0.7/8"), pfx("10.0.0.0/8")}, Internal: true, Masquerade: true}}}
	got, err := normalize(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Network{{Bridge: "b", Subnets: []netip.Prefix{pfx("10.0.0.0/8")}, Internal: true}}
	if !reflect.DeepEqual(got.Networks, want) {
		t.Errorf("normalize(%+v) = %+v, want %+v", in, got.Networks, want)
	}

	p := Port{Owner: "c", Proto: "TCP", HostPort: 1, ContainerIP: addr("::ffff:10.0.0.2"), ContainerPort: 2, Bridge: "b"}
	got, err = normalize(State{Ports: []Port{p, p}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ports) != 1 || got.Ports[0].Proto != "tcp" || got.Ports[0].ContainerIP != addr("10.0.0.2") {
		t.Errorf("normalize ports = %+v", got.Ports)
	}
}

func TestNormalizeErrors(t *testing.T) {
	ok := Port{Owner: "c", Proto: "tcp", HostPort: 80, ContainerIP: addr("10.0.0.2"), ContainerPort: 80, Bridge: "b"}
	with := func(f func(*Port)) Port { p := ok; f(&p); return p }
	tests := []struct {
		name string
		s    State
		want error
	}{
		{"bridge name", State{Networks: []Network{{Bridge: "a/b"}}}, errdefs.ErrInvalidArgument},
		{"long bridge name", State{Networks: []Network{{Bridge: strings.Repeat("x", 16)}}}, errdefs.ErrInvalidArgument},
		{"two networks one bridge", State{Networks: []Network{{Bridge: "b"}, {Bridge: "b", ICC: true}}}, errdefs.ErrInvalidArgument},
		{"proto", State{Ports: []Port{with(func(p *Port) { p.Proto = "icmp" })}}, errdefs.ErrInvalidArgument},
		{"owner", State{Ports: []Port{with(func(p *Port) { p.Owner = "a b" })}}, errdefs.ErrInvalidArgument},
		{"host port", State{Ports: []Port{with(func(p *Port) { p.HostPort = 0 })}}, errdefs.ErrInvalidArgument},
		{"container ip", State{Ports: []Port{with(func(p *Port) { p.ContainerIP = netip.Addr{} })}}, errdefs.ErrInvalidArgument},
		{"families", State{Ports: []Port{with(func(p *Port) { p.HostIP = addr("::1") })}}, errdefs.ErrInvalidArgument},
		{"same host port", State{Ports: []Port{ok, with(func(p *Port) { p.Owner = "d" })}}, errdefs.ErrConflict},
		{"any and specific", State{Ports: []Port{ok, with(func(p *Port) { p.Owner = "d"; p.HostIP = addr("127.0.0.1") })}}, errdefs.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := normalize(tt.s); !errors.Is(err, tt.want) {
				t.Errorf("normalize(%+v) = %v, want %v", tt.s, err, tt.want)
			}
		})
	}
	// Not conflicts: other family, other protocol, two specific addresses.
	fine := State{Ports: []Port{ok,
		with(func(p *Port) { p.Owner = "d"; p.ContainerIP = addr("fd00::2") }),
		with(func(p *Port) { p.Owner = "e"; p.Proto = "udp" }),
		with(func(p *Port) { p.Owner = "f"; p.HostPort = 81; p.HostIP = addr("127.0.0.1") }),
		with(func(p *Port) { p.Owner = "g"; p.HostPort = 81; p.HostIP = addr("127.0.0.2") }),
	}}
	if _, err := normalize(fine); err != nil {
		t.Errorf("normalize(%+v) = %v", fine, err)
	}
}

func TestPlan(t *testing.T) {
	s, err := normalize(sampleState())
	if err != nil {
		t.Fatal(err)
	}
	rules, err := plan(s)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	count := map[string]int{}
	for chain, rs := range rules {
		if _, ok := chainSpecOf(chain); !ok {
			t.Errorf("rule in unknown chain %s", chain)
		}
		for _, r := range rs {
			if seen[r.tag] {
				t.Errorf("duplicate tag %q", r.tag)
			}
			seen[r.tag] = true
			count[chain]++
			if len(r.exprs) == 0 {
				t.Errorf("rule %s has no expressions", r)
			}
		}
	}
	// shoal0: published, inbound, 2 subnets × (masq, hairpin), localhost.
	// shv-int: internal-out, internal-in, no-icc.
	// br-noicc: published, inbound, no-icc, masq, hairpin, localhost.
	want := map[string]int{
		chainForward: 4, chainPrerouting: 1, chainOutput: 2, // output: the ::1 exclusion, the DNAT jump
		chainInternal: 2, chainPublished: 2, chainIsolation: 4,
		chainPostrout: 5 + 3, chainDNAT: 4,
	}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("rules by chain = %v, want %v", count, want)
	}

	many := Network{Bridge: "b", Masquerade: true}
	for i := range 8 {
		many.Subnets = append(many.Subnets, netip.PrefixFrom(netip.AddrFrom16([16]byte{0xfd, byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}), 120))
	}
	if _, err := plan(State{Networks: []Network{many}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("plan with 8 long subnets = %v, want ErrInvalidArgument", err)
	}
}

func TestPrefixMask(t *testing.T) {
	for _, tt := range []struct {
		p    string
		want []byte
	}{
		{"10.0.0.0/8", []byte{0xff, 0, 0, 0}},
		{"172.16.0.0/12", []byte{0xff, 0xf0, 0, 0}},
		{"10.1.2.0/23", []byte{0xff, 0xff, 0xfe, 0}},
	} {
		if got := prefixMask(pfx(tt.p)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("prefixMask(%s) = %v, want %v", tt.p, got, tt.want)
		}
	}
}
