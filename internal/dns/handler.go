package dns

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"

	mdns "github.com/miekg/dns"
)

const (
	headerLen = 12
	// ednsSize is the UDP payload size advertised in answers to EDNS
	// queries (DNS flag day 2020).
	ednsSize = 1232
	// maxUpstreams bounds how many upstreams one query may try, as
	// Docker's resolver (which also never has more than resolv.conf's 3).
	maxUpstreams = 3

	flagQR = 1 << 15
	flagRD = 1 << 8
	flagRA = 1 << 7
	flagCD = 1 << 4
)

// pending is a query that must go upstream.
type pending struct {
	msg     *mdns.Msg
	maxSize int // largest reply the client accepts
}

// serveMsg answers one raw query received over proto ("udp" or "tcp")
// from a client whose network scope is scope, forwarding it upstream if
// needed. It returns the raw reply, or nil when the message is to be
// dropped. It is the whole query path but the socket I/O.
func (s *Server) serveMsg(ctx context.Context, scope func() []string, proto string, req []byte) []byte {
	reply, p := s.answer(scope, proto, req, nil)
	if p != nil {
		reply = s.forward(ctx, proto, p, nil)
	}
	return reply
}

// answer answers req from the store without blocking. It returns either a
// reply (nil: drop req) or a pending query to forward. buf is reused for
// the reply if large enough.
func (s *Server) answer(scope func() []string, proto string, req []byte, buf []byte) ([]byte, *pending) {
	if len(req) < headerLen {
		return nil, nil
	}
	flags := binary.BigEndian.Uint16(req[2:])
	if flags&flagQR != 0 {
		// A response: never answer one, so that two resolvers (or a
		// spoofed source) cannot bounce messages between each other.
		return nil, nil
	}
	if op := int(flags>>11) & 0xF; op != mdns.OpcodeQuery {
		return headerReply(req, mdns.RcodeNotImplemented), nil
	}
	qd := binary.BigEndian.Uint16(req[4:])
	an := binary.BigEndian.Uint16(req[6:])
	ns := binary.BigEndian.Uint16(req[8:])
	ar := binary.BigEndian.Uint16(req[10:])
	if qd != 1 || an != 0 || ns != 0 || ar > 2 {
		return headerReply(req, mdns.RcodeFormatError), nil
	}
	m := new(mdns.Msg)
	if err := m.Unpack(req); err != nil || len(m.Question) != 1 {
		return headerReply(req, mdns.RcodeFormatError), nil
	}
	maxSize := mdns.MaxMsgSize
	if proto == "udp" {
		maxSize = mdns.MinMsgSize
		if opt := m.IsEdns0(); opt != nil && int(opt.UDPSize()) > maxSize {
			maxSize = int(opt.UDPSize())
		}
	}
	q := m.Question[0]
	if q.Qclass != mdns.ClassINET {
		return nil, &pending{msg: m, maxSize: maxSize}
	}
	if q.Qtype == mdns.TypePTR {
		if ip, ok := parsePTR(q.Name); ok {
			if names := s.store.Reverse(scope(), ip); len(names) > 0 {
				r := s.newReply(m)
				for _, n := range names {
					r.Answer = append(r.Answer, &mdns.PTR{
						Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: s.ttl},
						Ptr: n,
					})
				}
				return s.pack(r, maxSize, buf), nil
			}
		}
		return nil, &pending{msg: m, maxSize: maxSize}
	}
	var arr [8]netip.Addr
	addrs, known := s.resolve(arr[:0], scope(), q.Name, q.Qtype)
	if !known {
		return nil, &pending{msg: m, maxSize: maxSize}
	}
	// A name of ours: answer even when it has no address of the asked
	// type (NOERROR, no answers), and never forward it.
	r := s.newReply(m)
	if len(addrs) > 0 {
		r.Answer = make([]mdns.RR, 0, len(addrs))
	}
	for _, a := range addrs {
		hdr := mdns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: mdns.ClassINET, Ttl: s.ttl}
		b := a.AsSlice()
		if a.Is4() {
			r.Answer = append(r.Answer, &mdns.A{Hdr: hdr, A: b})
		} else {
			r.Answer = append(r.Answer, &mdns.AAAA{Hdr: hdr, AAAA: b})
		}
	}
	return s.pack(r, maxSize, buf), nil
}

// resolve looks qname up in scope as Docker does: the whole name on every
// network in scope, then, for "a.b.c", "a.b" on network "c" and "a" on
// network "b.c" when those networks are in scope.
func (s *Server) resolve(dst []netip.Addr, scope []string, qname string, qtype uint16) ([]netip.Addr, bool) {
	name := normalizeName(qname)
	if name == "" {
		return dst, false
	}
	if addrs, ok := s.store.lookup(dst, scope, name, qtype); ok {
		return addrs, true
	}
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		network := name[i+1:]
		for j, n := range scope {
			if strings.EqualFold(n, network) {
				if addrs, ok := s.store.lookup(dst, scope[j:j+1], name[:i], qtype); ok {
					return addrs, true
				}
			}
		}
	}
	return dst, false
}

// newReply starts a reply to query as Docker's resolver does: same ID and
// question, recursion available; with an OPT record if query had one.
func (s *Server) newReply(query *mdns.Msg) *mdns.Msg {
	r := new(mdns.Msg)
	r.SetReply(query)
	r.RecursionAvailable = true
	if query.IsEdns0() != nil {
		r.SetEdns0(ednsSize, false)
	}
	return r
}

// pack packs r into buf, truncating it (TC set) to fit maxSize. On a
// packing failure it answers SERVFAIL.
func (s *Server) pack(r *mdns.Msg, maxSize int, buf []byte) []byte {
	r.Compress = true
	out, err := r.PackBuffer(buf)
	if err == nil && len(out) > maxSize {
		r.Truncate(maxSize)
		out, err = r.PackBuffer(buf)
	}
	if err != nil {
		s.log.Debug("pack dns reply", "err", err)
		f := new(mdns.Msg).SetRcode(r, mdns.RcodeServerFailure)
		f.Answer, f.Ns, f.Extra = nil, nil, nil
		if out, err = f.Pack(); err != nil {
			return nil
		}
	}
	return out
}

// headerReply is a reply of a bare header with rcode, for queries that
// cannot be parsed.
func headerReply(req []byte, rcode int) []byte {
	b := make([]byte, headerLen)
	copy(b, req[:2]) // ID
	flags := binary.BigEndian.Uint16(req[2:])
	flags = flagQR | flags&(0xF<<11) | flags&(flagRD|flagCD) | flagRA | uint16(rcode&0xF)
	binary.BigEndian.PutUint16(b[2:], flags)
	return b
}

// forward sends p upstream and returns the reply to pass to the client:
// the first upstream answer that is not SERVFAIL or REFUSED, with the
// client's ID, else SERVFAIL.
func (s *Server) forward(ctx context.Context, proto string, p *pending, buf []byte) []byte {
	q := p.msg
	ups := s.upstreams()
	if own, ok := ctx.Value(upstreamsKey{}).(func() []netip.AddrPort); ok {
		if u := own(); len(u) > 0 {
			ups = u
		}
	}
	if len(ups) == 0 {
		return s.pack(s.failure(q, mdns.RcodeServerFailure), p.maxSize, buf)
	}
	id := q.Id
	fid, st := s.inflight.start(q)
	switch st {
	case inflightLoop:
		// The query is one we sent upstream ourselves, coming back: the
		// upstream resolves through us. Forwarding it again would loop.
		s.log.Debug("dns forwarding loop", "name", q.Question[0].Name)
		return s.pack(s.failure(q, mdns.RcodeServerFailure), p.maxSize, buf)
	case inflightFull:
		return s.pack(s.failure(q, mdns.RcodeRefused), p.maxSize, buf)
	}
	q.Id = fid
	resp := s.exchangeAll(ctx, proto, ups, q)
	s.inflight.done(fid)
	q.Id = id
	if resp == nil {
		return s.pack(s.failure(q, mdns.RcodeServerFailure), p.maxSize, buf)
	}
	resp.Id = id
	return s.pack(resp, p.maxSize, buf)
}

func (s *Server) exchangeAll(ctx context.Context, proto string, ups []netip.AddrPort, q *mdns.Msg) *mdns.Msg {
	for i, up := range ups {
		if i == maxUpstreams || ctx.Err() != nil {
			break
		}
		if up.Port() == 0 {
			up = netip.AddrPortFrom(up.Addr(), 53)
		}
		addr := up.String()
		c := s.udpClient
		if proto == "tcp" {
			c = s.tcpClient
		}
		r, err := exchange(ctx, c, q, addr)
		if err == nil && r.Truncated && proto != "tcp" {
			if rt, err := exchange(ctx, s.tcpClient, q, addr); err == nil {
				r = rt
			} else {
				s.log.Debug("dns upstream tcp retry", "upstream", addr, "err", err)
			}
		}
		if err != nil {
			s.log.Debug("dns upstream", "upstream", addr, "err", err)
			continue
		}
		if r.Rcode == mdns.RcodeServerFailure || r.Rcode == mdns.RcodeRefused {
			continue
		}
		return r
	}
	return nil
}

// exchange sends q to addr with c and reads the reply; cancelling ctx
// (the listener closing) interrupts it at once.
func exchange(ctx context.Context, c *mdns.Client, q *mdns.Msg, addr string) (*mdns.Msg, error) {
	conn, err := c.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// miekg/dns only takes ctx's deadline; closing the socket is what
	// interrupts a read in progress.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	return r, err
}

// failure is a reply to q with rcode and no records.
func (s *Server) failure(q *mdns.Msg, rcode int) *mdns.Msg {
	r := s.newReply(q)
	r.Rcode = rcode
	return r
}

// parsePTR parses a reverse name ("4.3.2.1.in-addr.arpa." or the 32
// nibbles of ip6.arpa.) into an address.
func parsePTR(name string) (netip.Addr, bool) {
	name = normalizeName(name)
	if v4, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		var b [4]byte
		for i := 3; i >= 0; i-- {
			label := v4
			if i > 0 {
				j := strings.IndexByte(v4, '.')
				if j < 0 {
					return netip.Addr{}, false
				}
				label, v4 = v4[:j], v4[j+1:]
			}
			n, ok := parseOctet(label)
			if !ok {
				return netip.Addr{}, false
			}
			b[i] = n
		}
		return netip.AddrFrom4(b), true
	}
	if v6, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		if len(v6) != 63 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i := 0; i < 32; i++ {
			c := v6[2*i]
			if i < 31 && v6[2*i+1] != '.' {
				return netip.Addr{}, false
			}
			var n byte
			switch {
			case '0' <= c && c <= '9':
				n = c - '0'
			case 'a' <= c && c <= 'f':
				n = c - 'a' + 10
			default:
				return netip.Addr{}, false
			}
			// Nibble i counts from the least significant end.
			k := 31 - i
			if k%2 == 0 {
				b[k/2] |= n << 4
			} else {
				b[k/2] |= n
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func parseOctet(s string) (byte, bool) {
	if len(s) == 0 || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > 255 {
		return 0, false
	}
	return byte(n), true
}

// inflight remembers the IDs and questions of the queries this server has
// sent upstream and not yet had answered, to recognise them if an upstream
// sends them back to us.
type inflight struct {
	mu sync.Mutex
	m  map[uint16]mdns.Question
}

// maxInflight bounds the queries a Server has upstream at once, over all
// listeners: half the ID space, so picking a free ID stays quick.
const maxInflight = 1 << 15

const (
	inflightOK   = iota
	inflightLoop // the query is one of our own, come back
	inflightFull // too many queries upstream
)

// start picks a fresh ID for forwarding q, unless q is itself one of ours
// (same ID and question) or maxInflight queries are upstream already.
func (f *inflight) start(q *mdns.Msg) (uint16, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, ok := f.m[q.Id]; ok && sameQuestion(prev, q.Question[0]) {
		return 0, inflightLoop
	}
	if len(f.m) >= maxInflight {
		return 0, inflightFull
	}
	if f.m == nil {
		f.m = make(map[uint16]mdns.Question)
	}
	for {
		id := uint16(rand.Uint32())
		if _, used := f.m[id]; !used {
			f.m[id] = q.Question[0]
			return id, inflightOK
		}
	}
}

func (f *inflight) done(id uint16) {
	f.mu.Lock()
	delete(f.m, id)
	f.mu.Unlock()
}

func sameQuestion(a, b mdns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}
