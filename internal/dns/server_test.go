package dns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// env is one listener under test and a way to reach it as its container
// would.
type env struct {
	srv  *Server
	id   string
	dial func(network string) (net.Conn, error)
	// relisten listens again for id after Close(id), on the same address.
	relisten func() error
}

// harness starts a listener for id on srv.
type harness func(t *testing.T, srv *Server, id string, networks func() []string) *env

// loopbackListen serves sockets on 127.0.0.1 of the test's own namespace:
// everything but entering a namespace, without root.
func loopbackListen(t *testing.T, srv *Server, id string, networks func() []string) *env {
	t.Helper()
	// Separate random ports for UDP and TCP: nothing here needs them equal.
	udpAddr := netip.MustParseAddrPort("127.0.0.1:0")
	tcpAddr := udpAddr
	open := func() error {
		srv.mu.Lock()
		_, dup := srv.listeners[id]
		srv.mu.Unlock()
		if dup { // as Listen checks before opening sockets
			return errdefs.ErrAlreadyExists
		}
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(udpAddr))
		if err != nil {
			return err
		}
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(tcpAddr))
		if err != nil {
			udp.Close()
			return err
		}
		udpAddr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
		tcpAddr = tcp.Addr().(*net.TCPAddr).AddrPort()
		if err := srv.serve(id, udp, tcp, networks, nil); err != nil {
			return errors.Join(err, udp.Close(), tcp.Close())
		}
		return nil
	}
	if err := open(); err != nil {
		t.Fatal(err)
	}
	return &env{
		srv: srv, id: id,
		dial: func(network string) (net.Conn, error) {
			if network == "tcp" {
				return net.Dial(network, tcpAddr.String())
			}
			return net.Dial(network, udpAddr.String())
		},
		relisten: open,
	}
}

// netnsListen runs the real thing: Listen in a fresh namespace, and
// clients whose sockets are made in it.
func netnsListen(t *testing.T, srv *Server, id string, networks func() []string) *env {
	t.Helper()
	testutil.RequiresRoot(t)
	ns := testutil.NewNetNS(t)
	if err := testutil.InNetNS(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatalf("bring lo up: %v", err)
	}
	if err := srv.Listen(t.Context(), id, ns, networks); err != nil {
		t.Fatal(err)
	}
	return &env{
		srv: srv, id: id,
		dial: func(network string) (c net.Conn, err error) {
			err = testutil.InNetNS(ns, func() error {
				c, err = net.Dial(network, net.JoinHostPort(Nameserver, "53"))
				return err
			})
			return c, err
		},
		relisten: func() error { return srv.Listen(t.Context(), id, ns, networks) },
	}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func (e *env) exchange(t *testing.T, proto string, q *mdns.Msg) *mdns.Msg {
	t.Helper()
	r, err := e.tryExchange(proto, q)
	if err != nil {
		t.Fatalf("%s query %s: %v", proto, q.Question[0].String(), err)
	}
	return r
}

func (e *env) tryExchange(proto string, q *mdns.Msg) (*mdns.Msg, error) {
	c, err := e.dial(proto)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cl := &mdns.Client{Net: proto, Timeout: 5 * time.Second}
	r, _, err := cl.ExchangeWithConn(q, &mdns.Conn{Conn: c})
	return r, err
}

func query(name string, qtype uint16) *mdns.Msg {
	return new(mdns.Msg).SetQuestion(name, qtype)
}

// answers lists the addresses or PTR names of r's answers.
func answers(r *mdns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.AAAA:
			out = append(out, rr.AAAA.String())
		case *mdns.PTR:
			out = append(out, rr.Ptr)
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

// fakeUpstream is a resolver on 127.0.0.1 of the test's namespace.
type fakeUpstream struct {
	addr    netip.AddrPort
	udpHits atomic.Int32
	tcpHits atomic.Int32
}

func startUpstream(t *testing.T, h func(proto string, q *mdns.Msg) *mdns.Msg) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	// UDP and TCP on one port, as an upstream is one address: retry when
	// the random UDP port is taken for TCP (by another test's client).
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
		if ln, err = net.Listen("tcp", u.addr.String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	handler := func(proto string, hits *atomic.Int32) mdns.HandlerFunc {
		return func(w mdns.ResponseWriter, q *mdns.Msg) {
			hits.Add(1)
			if r := h(proto, q); r != nil {
				_ = w.WriteMsg(r)
			}
		}
	}
	for _, srv := range []*mdns.Server{
		{PacketConn: pc, Handler: handler("udp", &u.udpHits)},
		{Listener: ln, Handler: handler("tcp", &u.tcpHits)},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return u
}

// A records for name answered by the fake upstream: many, so they do not
// fit 512 bytes.
func upstreamAnswer(q *mdns.Msg, n int) *mdns.Msg {
	r := new(mdns.Msg).SetReply(q)
	for i := range n {
		r.Answer = append(r.Answer, &mdns.A{
			Hdr: mdns.RR_Header{Name: q.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60},
			A:   net.IPv4(192, 0, 2, byte(i)),
		})
	}
	return r
}

func TestServerLoopback(t *testing.T) {
	t.Parallel()
	testServer(t, loopbackListen)
}

func TestServerNetNS(t *testing.T) {
	testutil.RequiresRoot(t)
	t.Parallel()
	testServer(t, netnsListen)
}

func testServer(t *testing.T, listen harness) {
	newEnv := func(t *testing.T, cfg Config, networks func() []string) *env {
		t.Helper()
		if cfg.Store == nil {
			cfg.Store = NewStore()
		}
		cfg.Logger = testLogger(t)
		if cfg.ForwardTimeout == 0 {
			cfg.ForwardTimeout = time.Second
		}
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := listen(t, srv, "ctr", networks)
		t.Cleanup(srv.Shutdown)
		return e
	}
	fixed := func(n ...string) func() []string { return func() []string { return n } }
	store := func() *Store {
		s := NewStore()
		s.Set("ctr", "neta", []string{"self"}, addrs("10.0.0.9"))
		s.Set("c1", "neta", []string{"Web", "www", "c1c1c1c1c1c1"}, addrs("10.0.0.2", "fd00::2"))
		s.Set("c2", "neta", []string{"v4only"}, addrs("10.0.0.3"))
		s.Set("c3", "netb", []string{"onb"}, addrs("10.1.0.3"))
		return s
	}

	t.Run("names and aliases", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		for _, proto := range []string{"udp", "tcp"} {
			for _, name := range []string{"web.", "WEB.", "wWw.", "c1c1c1c1c1c1.", "self."} {
				q := query(name, mdns.TypeA)
				r := e.exchange(t, proto, q)
				want := []string{"10.0.0.2"}
				if name == "self." {
					want = []string{"10.0.0.9"}
				}
				if r.Rcode != mdns.RcodeSuccess || !slices.Equal(answers(r), want) {
					t.Errorf("%s %s A = %s %v, want NOERROR %v", proto, name, mdns.RcodeToString[r.Rcode], answers(r), want)
				}
				if len(r.Answer) > 0 && r.Answer[0].Header().Ttl != 600 {
					t.Errorf("TTL %d, want 600", r.Answer[0].Header().Ttl)
				}
				if !r.RecursionAvailable || r.Id != q.Id {
					t.Errorf("reply RA %v id %d, want RA and id %d", r.RecursionAvailable, r.Id, q.Id)
				}
			}
		}
	})

	t.Run("aaaa", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		r := e.exchange(t, "udp", query("web.", mdns.TypeAAAA))
		if r.Rcode != mdns.RcodeSuccess || !slices.Equal(answers(r), []string{"fd00::2"}) {
			t.Errorf("web AAAA = %s %v, want fd00::2", mdns.RcodeToString[r.Rcode], answers(r))
		}
	})

	t.Run("name.network", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta", "netb"))
		for _, name := range []string{"web.neta.", "WEB.NETA.", "onb.netb."} {
			r := e.exchange(t, "udp", query(name, mdns.TypeA))
			if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 1 {
				t.Errorf("%s A = %s %v, want one address", name, mdns.RcodeToString[r.Rcode], answers(r))
			}
		}
		// web is not on netb: no answer from the store.
		if r := e.exchange(t, "udp", query("web.netb.", mdns.TypeA)); r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("web.netb. A = %s %v, want SERVFAIL (not ours, no upstream)", mdns.RcodeToString[r.Rcode], answers(r))
		}
	})

	t.Run("missing type is NOERROR empty", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		for _, qt := range []uint16{mdns.TypeAAAA, mdns.TypeMX, mdns.TypeTXT} {
			r := e.exchange(t, "udp", query("v4only.", qt))
			if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
				t.Errorf("v4only %s = %s %v, want NOERROR with no answer", mdns.TypeToString[qt], mdns.RcodeToString[r.Rcode], answers(r))
			}
		}
	})

	t.Run("scoped to networks", func(t *testing.T) {
		t.Parallel()
		// No upstream: Docker answers SERVFAIL for names it does not own.
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		r := e.exchange(t, "udp", query("onb.", mdns.TypeA))
		if r.Rcode != mdns.RcodeServerFailure || len(r.Answer) != 0 {
			t.Errorf("onb A from neta = %s %v, want SERVFAIL", mdns.RcodeToString[r.Rcode], answers(r))
		}
		// With an upstream, it goes there, which says NXDOMAIN.
		up := startUpstream(t, func(_ string, q *mdns.Msg) *mdns.Msg {
			return new(mdns.Msg).SetRcode(q, mdns.RcodeNameError)
		})
		e = newEnv(t, Config{Store: store(), Upstreams: func() []netip.AddrPort { return []netip.AddrPort{up.addr} }}, fixed("neta"))
		r = e.exchange(t, "udp", query("onb.", mdns.TypeA))
		if r.Rcode != mdns.RcodeNameError || up.udpHits.Load() != 1 {
			t.Errorf("onb A from neta = %s after %d upstream queries, want NXDOMAIN from the upstream", mdns.RcodeToString[r.Rcode], up.udpHits.Load())
		}
	})

	t.Run("live scope", func(t *testing.T) {
		t.Parallel()
		var scope atomic.Pointer[[]string]
		scope.Store(&[]string{"neta"})
		e := newEnv(t, Config{Store: store()}, func() []string { return *scope.Load() })
		if r := e.exchange(t, "udp", query("onb.", mdns.TypeA)); len(r.Answer) != 0 {
			t.Fatalf("onb before connect = %v, want none", answers(r))
		}
		scope.Store(&[]string{"neta", "netb"})
		if r := e.exchange(t, "udp", query("onb.", mdns.TypeA)); !slices.Equal(answers(r), []string{"10.1.0.3"}) {
			t.Errorf("onb after connect = %v, want 10.1.0.3", answers(r))
		}
	})

	t.Run("round robin", func(t *testing.T) {
		t.Parallel()
		s := NewStore()
		all := []string{"10.0.0.11", "10.0.0.12", "10.0.0.13"}
		for i, ip := range all {
			s.Set(fmt.Sprint("r", i), "neta", []string{fmt.Sprint("replica", i), "svc"}, addrs(ip))
		}
		e := newEnv(t, Config{Store: s}, fixed("neta"))
		firsts := map[string]int{}
		for range 6 {
			got := answers(e.exchange(t, "udp", query("svc.", mdns.TypeA)))
			firsts[got[0]]++
			sort.Strings(got)
			if !slices.Equal(got, all) {
				t.Fatalf("svc A = %v, want all of %v", got, all)
			}
		}
		for _, ip := range all {
			if firsts[ip] != 2 {
				t.Errorf("first answers over 6 queries: %v, want each address twice", firsts)
				break
			}
		}
	})

	t.Run("ptr", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		for ip, want := range map[string]string{"10.0.0.2": "web.neta.", "fd00::2": "web.neta."} {
			r := e.exchange(t, "udp", query(mustReverse(t, ip), mdns.TypePTR))
			if r.Rcode != mdns.RcodeSuccess || !slices.Equal(answers(r), []string{want}) {
				t.Errorf("PTR %s = %s %v, want %s", ip, mdns.RcodeToString[r.Rcode], answers(r), want)
			}
		}
		// Out of scope: not ours (SERVFAIL without upstream).
		if r := e.exchange(t, "udp", query(mustReverse(t, "10.1.0.3"), mdns.TypePTR)); r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("PTR of a netb address = %s %v, want SERVFAIL", mdns.RcodeToString[r.Rcode], answers(r))
		}
	})

	t.Run("forward", func(t *testing.T) {
		t.Parallel()
		var seenID atomic.Uint32
		up := startUpstream(t, func(_ string, q *mdns.Msg) *mdns.Msg {
			seenID.Store(uint32(q.Id))
			return upstreamAnswer(q, 1)
		})
		dead := netip.MustParseAddrPort("127.0.0.1:1") // nothing listens: refused at once
		failing := startUpstream(t, func(_ string, q *mdns.Msg) *mdns.Msg {
			return new(mdns.Msg).SetRcode(q, mdns.RcodeServerFailure)
		})
		ups := func() []netip.AddrPort { return []netip.AddrPort{dead, failing.addr, up.addr} }
		e := newEnv(t, Config{Store: store(), Upstreams: ups}, fixed("neta"))
		for _, proto := range []string{"udp", "tcp"} {
			q := query("example.com.", mdns.TypeA)
			q.Id = 4242
			r := e.exchange(t, proto, q)
			if r.Rcode != mdns.RcodeSuccess || !slices.Equal(answers(r), []string{"192.0.2.0"}) || r.Id != 4242 {
				t.Errorf("%s forwarded query = %s %v id %d, want NOERROR 192.0.2.0 id 4242", proto, mdns.RcodeToString[r.Rcode], answers(r), r.Id)
			}
			if seenID.Load() == 4242 {
				t.Logf("upstream saw the client's id (possible, 1 in 65536)")
			}
		}
		if up.udpHits.Load() != 1 || up.tcpHits.Load() != 1 || failing.udpHits.Load() != 1 {
			t.Errorf("upstream got %d udp, %d tcp queries, failing one %d; want 1, 1, 1 (tcp queries go over tcp)",
				up.udpHits.Load(), up.tcpHits.Load(), failing.udpHits.Load())
		}
	})

	t.Run("forward timeout", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, func(string, *mdns.Msg) *mdns.Msg { return nil }) // never answers
		e := newEnv(t, Config{Store: store(), ForwardTimeout: 200 * time.Millisecond,
			Upstreams: func() []netip.AddrPort { return []netip.AddrPort{up.addr} }}, fixed("neta"))
		start := time.Now()
		r := e.exchange(t, "udp", query("example.com.", mdns.TypeA))
		if r.Rcode != mdns.RcodeServerFailure || time.Since(start) > 2*time.Second {
			t.Errorf("silent upstream: %s after %v, want SERVFAIL after ~200ms", mdns.RcodeToString[r.Rcode], time.Since(start))
		}
		// Meanwhile local names are answered at once.
		if r := e.exchange(t, "udp", query("web.", mdns.TypeA)); len(r.Answer) != 1 {
			t.Errorf("web A = %v", answers(r))
		}
	})

	t.Run("close during forward", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, func(string, *mdns.Msg) *mdns.Msg { return nil }) // never answers
		e := newEnv(t, Config{Store: store(), ForwardTimeout: 30 * time.Second,
			Upstreams: func() []netip.AddrPort { return []netip.AddrPort{up.addr} }}, fixed("neta"))
		for _, proto := range []string{"udp", "tcp"} {
			c, err := e.dial(proto)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := (&mdns.Conn{Conn: c}).WriteMsg(query("slow.example.", mdns.TypeA)); err != nil {
				t.Fatal(err)
			}
		}
		for deadline := time.Now().Add(2 * time.Second); up.udpHits.Load()+up.tcpHits.Load() < 2; {
			if time.Now().After(deadline) {
				t.Fatal("queries never reached the upstream")
			}
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		e.srv.Close(e.id)
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v with forwards in flight, want it to interrupt them", d)
		}
	})

	t.Run("truncation falls back to tcp", func(t *testing.T) {
		t.Parallel()
		up := startUpstream(t, func(proto string, q *mdns.Msg) *mdns.Msg {
			if proto == "udp" {
				r := new(mdns.Msg).SetReply(q)
				r.Truncated = true
				return r
			}
			return upstreamAnswer(q, 100)
		})
		e := newEnv(t, Config{Store: store(), Upstreams: func() []netip.AddrPort { return []netip.AddrPort{up.addr} }}, fixed("neta"))
		q := query("big.example.", mdns.TypeA)
		q.SetEdns0(4096, false)
		r := e.exchange(t, "udp", q)
		if r.Truncated || len(r.Answer) != 100 {
			t.Errorf("edns udp query: TC %v, %d answers; want the 100 answers fetched over tcp", r.Truncated, len(r.Answer))
		}
		if up.udpHits.Load() != 1 || up.tcpHits.Load() != 1 {
			t.Errorf("upstream got %d udp, %d tcp queries, want 1 and 1", up.udpHits.Load(), up.tcpHits.Load())
		}
		// A client without EDNS gets a truncated answer, then asks over tcp.
		r = e.exchange(t, "udp", query("big.example.", mdns.TypeA))
		if !r.Truncated {
			t.Errorf("plain udp query: TC not set on a 100-answer reply")
		}
		r = e.exchange(t, "tcp", query("big.example.", mdns.TypeA))
		if r.Truncated || len(r.Answer) != 100 {
			t.Errorf("tcp query: TC %v, %d answers; want 100", r.Truncated, len(r.Answer))
		}
	})

	t.Run("forwarding loop", func(t *testing.T) {
		t.Parallel()
		// The upstream relays every query back to our own listener.
		var e *env
		var ready sync.WaitGroup
		ready.Add(1)
		up := startUpstream(t, func(_ string, q *mdns.Msg) *mdns.Msg {
			ready.Wait()
			r, err := e.tryExchange("udp", q)
			if err != nil {
				return nil
			}
			return r
		})
		e = newEnv(t, Config{Store: store(), Upstreams: func() []netip.AddrPort { return []netip.AddrPort{up.addr} }}, fixed("neta"))
		ready.Done()
		start := time.Now()
		r := e.exchange(t, "udp", query("loop.example.", mdns.TypeA))
		if r.Rcode != mdns.RcodeServerFailure {
			t.Errorf("looping query = %s, want SERVFAIL", mdns.RcodeToString[r.Rcode])
		}
		time.Sleep(50 * time.Millisecond)
		if n := up.udpHits.Load(); n != 1 {
			t.Errorf("the loop went %d times through the upstream, want 1", n)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("loop answered after %v, want at once", d)
		}
	})

	t.Run("malformed input", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		c, err := e.dial("udp")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, pkt := range [][]byte{{0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, make([]byte, 3000)} {
			if _, err := c.Write(pkt); err != nil {
				t.Fatal(err)
			}
		}
		// The second is a query with 2056 questions: FORMERR.
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read FORMERR: %v", err)
		}
		r := new(mdns.Msg)
		if err := r.Unpack(buf[:n]); err != nil || r.Rcode != mdns.RcodeFormatError || r.Id != 0x0102 {
			t.Errorf("reply to garbage: %v %v, want FORMERR with id 0x0102", r, err)
		}
		// Garbage over TCP: a length prefix longer than what follows.
		tc, err := e.dial("tcp")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = tc.Write([]byte{0xff, 0xff, 1, 2, 3})
		tc.Close()
		for _, proto := range []string{"udp", "tcp"} {
			if r := e.exchange(t, proto, query("web.", mdns.TypeA)); len(r.Answer) != 1 {
				t.Errorf("%s after garbage: %v, want an answer", proto, answers(r))
			}
		}
	})

	t.Run("tcp connection limit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store(), MaxTCPConns: 2}, fixed("neta"))
		var held []net.Conn
		for range 2 {
			c, err := e.dial("tcp")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			held = append(held, c)
			// A query on it makes sure the server has taken it.
			co := &mdns.Conn{Conn: c}
			if err := co.WriteMsg(query("web.", mdns.TypeA)); err != nil {
				t.Fatal(err)
			}
			if _, err := co.ReadMsg(); err != nil {
				t.Fatal(err)
			}
		}
		extra, err := e.dial("tcp")
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
			t.Errorf("third connection read: %v, want it closed by the server", err)
		}
		held[0].Close()
		deadline := time.Now().Add(2 * time.Second)
		for {
			r, err := e.tryExchange("tcp", query("web.", mdns.TypeA))
			if err == nil && len(r.Answer) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no tcp answer after a slot was freed: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("close frees the address", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{Store: store()}, fixed("neta"))
		// An open TCP client must not hold the address either.
		c, err := e.dial("tcp")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		e.srv.Close(e.id)
		e.srv.Close(e.id) // twice is fine
		if _, err := e.tryExchange("udp", query("web.", mdns.TypeA)); err == nil {
			t.Error("query answered after Close")
		}
		if err := e.relisten(); err != nil {
			t.Fatalf("listen again after Close: %v", err)
		}
		if err := e.relisten(); !errdefs.IsAlreadyExists(err) {
			t.Errorf("second listen for the same id: %v, want ErrAlreadyExists", err)
		}
		for _, proto := range []string{"udp", "tcp"} {
			if r := e.exchange(t, proto, query("web.", mdns.TypeA)); len(r.Answer) != 1 {
				t.Errorf("%s after relisten: %v", proto, answers(r))
			}
		}
		e.srv.Shutdown()
		if err := e.relisten(); !errdefs.IsUnavailable(err) {
			t.Errorf("listen after Shutdown: %v, want ErrUnavailable", err)
		}
	})
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("New without store: %v, want ErrInvalidArgument", err)
	}
	s, err := New(Config{Store: NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(t.Context(), "", "/nonexistent", func() []string { return nil }); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Listen without id: %v, want ErrInvalidArgument", err)
	}
	if err := s.Listen(t.Context(), "x", "/nonexistent", func() []string { return nil }); err == nil {
		t.Error("Listen in a missing namespace succeeded")
	}
	s.Shutdown()
}

// BenchmarkQueryUDP measures one container-name lookup end to end over
// loopback UDP, and reports its 99th percentile latency.
func BenchmarkQueryUDP(b *testing.B) {
	st := NewStore()
	st.Set("c1", "neta", []string{"web"}, addrs("10.0.0.2"))
	srv, err := New(Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.serve("c1", udp, tcp, func() []string { return []string{"neta"} }, nil); err != nil {
		b.Fatal(err)
	}
	c, err := net.Dial("udp", udp.LocalAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req, err := query("web.", mdns.TypeA).Pack()
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 512)
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil || n < headerLen {
			b.Fatal(n, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// TestListenerUpstreams: a listener with upstreams of its own (docker run
// --dns on a user network) forwards to them; others use the server's.
func TestListenerUpstreams(t *testing.T) {
	answer := func(ip string) func(string, *mdns.Msg) *mdns.Msg {
		return func(_ string, q *mdns.Msg) *mdns.Msg {
			r := new(mdns.Msg).SetReply(q)
			rr, _ := mdns.NewRR(q.Question[0].Name + " 60 IN A " + ip)
			r.Answer = append(r.Answer, rr)
			return r
		}
	}
	global := startUpstream(t, answer("192.0.2.1"))
	own := startUpstream(t, answer("192.0.2.2"))
	srv, err := New(Config{Store: NewStore(), Upstreams: func() []netip.AddrPort { return []netip.AddrPort{global.addr} }, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	scope := func() []string { return []string{"n"} }
	for _, c := range []struct {
		id   string
		ups  func() []netip.AddrPort
		want string
	}{
		{"plain", nil, "192.0.2.1"},
		{"own", func() []netip.AddrPort { return []netip.AddrPort{own.addr} }, "192.0.2.2"},
		{"own-empty", func() []netip.AddrPort { return nil }, "192.0.2.1"},
	} {
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.serve(c.id, udp, tcp, scope, c.ups); err != nil {
			t.Fatal(err)
		}
		ua := udp.LocalAddr().String()
		e := &env{srv: srv, id: c.id, dial: func(network string) (net.Conn, error) { return net.Dial(network, ua) }}
		r := e.exchange(t, "udp", query("elsewhere.test.", mdns.TypeA))
		if got := answers(r); len(got) != 1 || !bytes.Contains([]byte(got[0]), []byte(c.want)) {
			t.Errorf("%s: answers %v, want %s", c.id, got, c.want)
		}
	}
}
