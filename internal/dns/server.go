package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Nameserver is the address the embedded DNS listens on (port 53, UDP
// and TCP) in each container's network namespace, as Docker's: the
// nameserver to write in the container's resolv.conf.
const Nameserver = "127.0.0.11"

const (
	defaultTTL            = 600 * time.Second
	defaultForwardTimeout = 4 * time.Second // Docker's extIOTimeout
	defaultMaxTCPConns    = 64
	// maxForwards bounds the queries of one listener that are upstream at
	// once, as Docker's maxConcurrent; more are answered REFUSED.
	maxForwards = 1024
	// tcpIdleTimeout closes a TCP client that sends nothing (RFC 7766
	// suggests seconds).
	tcpIdleTimeout = 10 * time.Second
)

// Config configures a Server.
type Config struct {
	// Store holds the records the Server answers from. Required.
	Store *Store
	// Upstreams returns the resolvers to forward other names to, tried in
	// order (at most 3, as resolv.conf); it is called per forwarded
	// query. A port of 0 means 53. They are reached from the daemon's
	// own network namespace. Nil or empty: such queries get SERVFAIL.
	Upstreams func() []netip.AddrPort
	// Logger receives debug and error events; nil discards them.
	Logger *slog.Logger
	// TTL of the records answered from Store; 0 means Docker's 600 s.
	TTL time.Duration
	// ForwardTimeout bounds each exchange with one upstream; 0 means
	// Docker's 4 s.
	ForwardTimeout time.Duration
	// MaxTCPConns bounds the TCP connections one listener serves at once;
	// more are closed as soon as accepted. 0 means 64.
	MaxTCPConns int
}

// Server is the embedded DNS resolver. It serves any number of listeners,
// one per container (see Listen), from one Store.
type Server struct {
	store      *Store
	upstreams  func() []netip.AddrPort
	log        *slog.Logger
	ttl        uint32
	maxTCP     int
	udpClient  *mdns.Client
	tcpClient  *mdns.Client
	inflight   inflight
	listenAddr netip.AddrPort

	mu        sync.Mutex
	listeners map[string]*listener
	closed    bool
}

// listener is one container's pair of sockets and their goroutines.
type listener struct {
	id       string
	networks func() []string
	udp      *net.UDPConn
	tcp      *net.TCPListener
	stop     context.CancelFunc
	wg       sync.WaitGroup
	fwd      chan struct{} // semaphore of forwards in flight
	tcpSlots chan struct{} // semaphore of TCP connections

	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
}

// New returns a Server with no listeners.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("new dns server: no record store: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.Upstreams == nil {
		cfg.Upstreams = func() []netip.AddrPort { return nil }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = defaultTTL
	}
	if cfg.ForwardTimeout <= 0 {
		cfg.ForwardTimeout = defaultForwardTimeout
	}
	if cfg.MaxTCPConns <= 0 {
		cfg.MaxTCPConns = defaultMaxTCPConns
	}
	return &Server{
		store:     cfg.Store,
		upstreams: cfg.Upstreams,
		log:       cfg.Logger,
		ttl:       uint32(cfg.TTL / time.Second),
		maxTCP:    cfg.MaxTCPConns,
		// UDPSize: receive oversized replies to queries without EDNS
		// whole (some servers ignore the 512-byte limit), as Docker does;
		// they are truncated to what the client accepts on the way back.
		udpClient:  &mdns.Client{Net: "udp", Timeout: cfg.ForwardTimeout, UDPSize: mdns.MaxMsgSize},
		tcpClient:  &mdns.Client{Net: "tcp", Timeout: cfg.ForwardTimeout},
		listenAddr: netip.AddrPortFrom(netip.MustParseAddr(Nameserver), 53),
		listeners:  map[string]*listener{},
	}, nil
}

// Listen opens a UDP and a TCP socket on 127.0.0.11:53 inside the network
// namespace bound at netnsPath, for the container id, and serves them
// until Close(id) or Shutdown. Queries on them are answered from the
// Store scoped to networks(), called per query, so that connecting and
// disconnecting the container takes effect at once. The namespace's lo
// must be up. ctx bounds the set-up only.
//
// Listen fails with ErrAlreadyExists if id has a listener already.
func (s *Server) Listen(ctx context.Context, id string, netnsPath string, networks func() []string) error {
	return s.ListenWith(ctx, id, netnsPath, networks, nil)
}

// upstreamsKey carries a listener's own upstreams in its serving context.
type upstreamsKey struct{}

// ListenWith is Listen with the container's own upstream resolvers
// (docker run --dns on a user-defined network): when upstreams returns
// any, names the store does not know are forwarded to them instead of the
// server's.
func (s *Server) ListenWith(ctx context.Context, id string, netnsPath string, networks func() []string, upstreams func() []netip.AddrPort) error {
	if id == "" || netnsPath == "" || networks == nil {
		return fmt.Errorf("listen dns: missing container id, netns path or network scope: %w", errdefs.ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	_, dup := s.listeners[id]
	s.mu.Unlock()
	if dup {
		return fmt.Errorf("listen dns for container %s: %w", id, errdefs.ErrAlreadyExists)
	}
	udp, tcp, err := listenInNetNS(netnsPath, s.listenAddr)
	if err != nil {
		return fmt.Errorf("listen dns for container %s: %w", id, err)
	}
	if err := s.serve(id, udp, tcp, networks, upstreams); err != nil {
		return errors.Join(err, udp.Close(), tcp.Close())
	}
	s.log.DebugContext(ctx, "dns listening", "container_id", id)
	return nil
}

// serve starts serving an opened pair of sockets as id's listener.
func (s *Server) serve(id string, udp *net.UDPConn, tcp *net.TCPListener, networks func() []string, upstreams func() []netip.AddrPort) error {
	base := context.Background()
	if upstreams != nil {
		base = context.WithValue(base, upstreamsKey{}, upstreams)
	}
	ctx, stop := context.WithCancel(base)
	l := &listener{
		id:       id,
		networks: networks,
		udp:      udp,
		tcp:      tcp,
		stop:     stop,
		fwd:      make(chan struct{}, maxForwards),
		tcpSlots: make(chan struct{}, s.maxTCP),
		conns:    map[net.Conn]struct{}{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		stop()
		return fmt.Errorf("listen dns for container %s: server shut down: %w", id, errdefs.ErrUnavailable)
	}
	if _, dup := s.listeners[id]; dup {
		stop()
		return fmt.Errorf("listen dns for container %s: %w", id, errdefs.ErrAlreadyExists)
	}
	s.listeners[id] = l
	l.wg.Add(2)
	go s.serveUDP(ctx, l)
	go s.serveTCP(ctx, l)
	return nil
}

// Close stops serving container id and closes its sockets, once all its
// goroutines have ended. An id without a listener is no error.
func (s *Server) Close(id string) {
	s.mu.Lock()
	l := s.listeners[id]
	delete(s.listeners, id)
	s.mu.Unlock()
	if l != nil {
		s.closeListener(l)
	}
}

// Shutdown closes every listener; Listen fails afterwards.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closed = true
	ls := s.listeners
	s.listeners = map[string]*listener{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { s.closeListener(l) })
	}
	wg.Wait()
}

func (s *Server) closeListener(l *listener) {
	l.stop()
	err := errors.Join(l.udp.Close(), l.tcp.Close())
	l.connsMu.Lock()
	l.closing = true
	for c := range l.conns {
		err = errors.Join(err, c.Close())
	}
	l.connsMu.Unlock()
	l.wg.Wait()
	if err != nil {
		s.log.Warn("close dns listener", "container_id", l.id, "err", err)
	}
	s.log.Debug("dns listener closed", "container_id", l.id)
}

// serveUDP reads queries one at a time and answers those it can from the
// store on the spot; queries that go upstream get a goroutine each, at
// most maxForwards at once.
func (s *Server) serveUDP(ctx context.Context, l *listener) {
	defer l.wg.Done()
	in := make([]byte, mdns.MaxMsgSize)
	out := make([]byte, 4096)
	for {
		n, from, err := l.udp.ReadFromUDPAddrPort(in)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("read dns query", "container_id", l.id, "err", err)
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		s.handleUDP(ctx, l, in[:n], from, out)
	}
}

func (s *Server) handleUDP(ctx context.Context, l *listener, req []byte, from netip.AddrPort, out []byte) {
	defer s.recover(l, "udp")
	reply, p := s.answer(l.networks, "udp", req, out)
	if p != nil {
		select {
		case l.fwd <- struct{}{}:
		default:
			reply = s.pack(s.failure(p.msg, mdns.RcodeRefused), p.maxSize, out)
			p = nil
		}
	}
	if p != nil {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() { <-l.fwd }()
			defer s.recover(l, "udp forward")
			if r := s.forward(ctx, "udp", p, nil); r != nil && ctx.Err() == nil {
				_, _ = l.udp.WriteToUDPAddrPort(r, from)
			}
		}()
		return
	}
	if reply != nil {
		if _, err := l.udp.WriteToUDPAddrPort(reply, from); err != nil {
			s.log.Debug("write dns reply", "container_id", l.id, "err", err)
		}
	}
}

func (s *Server) serveTCP(ctx context.Context, l *listener) {
	defer l.wg.Done()
	for {
		c, err := l.tcp.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("accept dns connection", "container_id", l.id, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		select {
		case l.tcpSlots <- struct{}{}:
		default:
			s.log.Debug("too many dns tcp connections", "container_id", l.id)
			c.Close()
			continue
		}
		l.connsMu.Lock()
		if l.closing {
			l.connsMu.Unlock()
			c.Close()
			<-l.tcpSlots
			return
		}
		l.conns[c] = struct{}{}
		l.wg.Add(1)
		l.connsMu.Unlock()
		go s.serveConn(ctx, l, c)
	}
}

// serveConn answers the length-prefixed queries of one TCP client in
// turn (RFC 7766), until it goes idle or closes.
func (s *Server) serveConn(ctx context.Context, l *listener, c net.Conn) {
	defer l.wg.Done()
	defer func() {
		l.connsMu.Lock()
		delete(l.conns, c)
		l.connsMu.Unlock()
		c.Close()
		<-l.tcpSlots
	}()
	var lenBuf [2]byte
	for ctx.Err() == nil {
		if err := c.SetReadDeadline(time.Now().Add(tcpIdleTimeout)); err != nil {
			return
		}
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		req := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		reply := s.serveTCPMsg(ctx, l, req)
		if reply == nil {
			continue
		}
		out := make([]byte, 2+len(reply))
		binary.BigEndian.PutUint16(out, uint16(len(reply)))
		copy(out[2:], reply)
		if err := c.SetWriteDeadline(time.Now().Add(tcpIdleTimeout)); err != nil {
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func (s *Server) serveTCPMsg(ctx context.Context, l *listener, req []byte) []byte {
	defer s.recover(l, "tcp")
	return s.serveMsg(ctx, l.networks, "tcp", req)
}

// recover keeps a panic in a query's handling (a bug, or the scope
// function's) from taking the daemon down.
func (s *Server) recover(l *listener, what string) {
	if r := recover(); r != nil {
		s.log.Error("dns handler panic", "container_id", l.id, "proto", what, "err", fmt.Errorf("%v", r))
	}
}
