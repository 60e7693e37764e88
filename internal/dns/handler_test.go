package dns

import (
	"encoding/binary"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

func TestParsePTR(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // "" = not a reverse name
	}{
		{"2.0.0.10.in-addr.arpa.", "10.0.0.2"},
		{"2.0.0.10.IN-ADDR.ARPA", "10.0.0.2"},
		{"255.255.255.255.in-addr.arpa.", "255.255.255.255"},
		{"0.0.10.in-addr.arpa.", ""},
		{"1.2.0.0.10.in-addr.arpa.", ""},
		{"256.0.0.10.in-addr.arpa.", ""},
		{"02.0.0.10.in-addr.arpa.", ""},
		{"x.0.0.10.in-addr.arpa.", ""},
		{".0.0.10.in-addr.arpa.", ""},
		{mustReverse(t, "fd00::2"), "fd00::2"},
		{mustReverse(t, "2001:db8::abcd:1"), "2001:db8::abcd:1"},
		{"2.0.0.0.ip6.arpa.", ""},
		{"web.mynet.", ""},
		{"in-addr.arpa.", ""},
	}
	for _, tc := range tests {
		ip, ok := parsePTR(tc.name)
		switch {
		case tc.want == "" && ok:
			t.Errorf("parsePTR(%q) = %v, want not a reverse name", tc.name, ip)
		case tc.want != "" && (!ok || ip != netip.MustParseAddr(tc.want)):
			t.Errorf("parsePTR(%q) = %v, %v, want %s", tc.name, ip, ok, tc.want)
		}
	}
}

func mustReverse(t *testing.T, ip string) string {
	t.Helper()
	r, err := mdns.ReverseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newHandlerServer(t testing.TB) *Server {
	t.Helper()
	st := NewStore()
	st.Set("c1", "mynet", []string{"web", "www"}, addrs("10.0.0.2", "fd00::2"))
	st.Set("c2", "mynet", []string{"v4only"}, addrs("10.0.0.3"))
	for i := range 60 {
		st.Set(string(rune('A'+i)), "mynet", []string{"many"}, []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 1, byte(i)})})
	}
	s, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pack(t testing.TB, m *mdns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServeMsgMalformed(t *testing.T) {
	t.Parallel()
	s := newHandlerServer(t)
	scope := func() []string { return []string{"mynet"} }

	valid := pack(t, new(mdns.Msg).SetQuestion("web.", mdns.TypeA))
	withFlags := func(set uint16, qd uint16) []byte {
		b := append([]byte(nil), valid...)
		binary.BigEndian.PutUint16(b[2:], binary.BigEndian.Uint16(b[2:])|set)
		binary.BigEndian.PutUint16(b[4:], qd)
		return b
	}
	tests := []struct {
		name  string
		req   []byte
		rcode int // -1: dropped
	}{
		{"empty", nil, -1},
		{"short", []byte{1, 2, 3}, -1},
		{"a response", withFlags(flagQR, 1), -1},
		{"notify", withFlags(mdns.OpcodeNotify<<11, 1), mdns.RcodeNotImplemented},
		{"two questions", withFlags(0, 2), mdns.RcodeFormatError},
		{"no question", withFlags(0, 0), mdns.RcodeFormatError},
		{"truncated question", valid[:len(valid)-3], mdns.RcodeFormatError},
		{"garbage", append([]byte{0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0xff, 0xff, 0xff), mdns.RcodeFormatError},
		{"valid", valid, mdns.RcodeSuccess},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.serveMsg(t.Context(), scope, "udp", tc.req)
			if tc.rcode < 0 {
				if got != nil {
					t.Fatalf("reply %x, want the message dropped", got)
				}
				return
			}
			r := new(mdns.Msg)
			if err := r.Unpack(got); err != nil {
				t.Fatalf("unpack reply %x: %v", got, err)
			}
			if r.Rcode != tc.rcode || !r.Response || r.Id != binary.BigEndian.Uint16(tc.req) {
				t.Errorf("reply rcode %s, response %v, id %d; want %s, true, %d",
					mdns.RcodeToString[r.Rcode], r.Response, r.Id, mdns.RcodeToString[tc.rcode], binary.BigEndian.Uint16(tc.req))
			}
		})
	}
}

func TestServeMsgTruncates(t *testing.T) {
	t.Parallel()
	s := newHandlerServer(t)
	scope := func() []string { return []string{"mynet"} }
	q := new(mdns.Msg).SetQuestion("many.", mdns.TypeA)

	udp := s.serveMsg(t.Context(), scope, "udp", pack(t, q))
	r := new(mdns.Msg)
	if err := r.Unpack(udp); err != nil {
		t.Fatal(err)
	}
	if len(udp) > mdns.MinMsgSize || !r.Truncated || len(r.Answer) == 0 || len(r.Answer) == 60 {
		t.Errorf("udp reply of %d bytes, TC %v, %d answers; want ≤ 512 bytes, TC set, some but not all 60", len(udp), r.Truncated, len(r.Answer))
	}

	q.SetEdns0(4096, false)
	big := s.serveMsg(t.Context(), scope, "udp", pack(t, q))
	if err := r.Unpack(big); err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 60 || r.IsEdns0() == nil {
		t.Errorf("edns reply: TC %v, %d answers, opt %v; want all 60 untruncated with an OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}

	q = new(mdns.Msg).SetQuestion("many.", mdns.TypeA)
	tcp := s.serveMsg(t.Context(), scope, "tcp", pack(t, q))
	if err := r.Unpack(tcp); err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("tcp reply: TC %v, %d answers; want all 60", r.Truncated, len(r.Answer))
	}
}

func BenchmarkServeMsg(b *testing.B) {
	s := newHandlerServer(b)
	scope := func() []string { return []string{"mynet"} }
	req := pack(b, new(mdns.Msg).SetQuestion("web.", mdns.TypeA))
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		out, p := s.answer(scope, "udp", req, buf)
		if p != nil || len(out) == 0 {
			b.Fatal("no local answer")
		}
	}
}
