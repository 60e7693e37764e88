package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// ParsePortRange parses a host port as Docker sends it: "" (ephemeral),
// "8080" or "8080-8090".
func ParsePortRange(s string) (start, end uint16, err error) {
	if s == "" {
		return 0, 0, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("invalid port range: %s: %w", s, errdefs.ErrInvalidArgument)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return 0, 0, fmt.Errorf("invalid port range: %s: %w", s, errdefs.ErrInvalidArgument)
		}
	}
	if b < a {
		return 0, 0, fmt.Errorf("invalid port range: %s: %w", s, errdefs.ErrInvalidArgument)
	}
	if a == 0 && b != 0 {
		return 0, 0, fmt.Errorf("invalid port range: %s: %w", s, errdefs.ErrInvalidArgument)
	}
	return uint16(a), uint16(b), nil
}

// ephemeralRange is the kernel's local port range, where Docker picks
// host ports for -P and -p without a host port.
func ephemeralRange() (uint16, uint16) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, err1 := strconv.ParseUint(f[0], 10, 16)
			hi, err2 := strconv.ParseUint(f[1], 10, 16)
			if err1 == nil && err2 == nil && lo > 0 && lo <= hi {
				return uint16(lo), uint16(hi)
			}
		}
	}
	return 32768, 60999
}

// portKey identifies a bound host port; ip is 0.0.0.0 or :: for every
// address of its family.
type portKey struct {
	proto string
	ip    netip.Addr
	port  uint16
}

// portBook holds the host ports published containers use, each with a
// socket bound on the host: so no host process can take a published
// port, and a port a host process has is refused as dockerd refuses it.
// Sockets for the IPv6 side of a v4-only container also proxy
// connections to it (the kernel cannot NAT IPv6 to IPv4).
type portBook struct {
	mu    sync.Mutex
	held  map[portKey]*heldPort
	next  uint16
	lo    uint16
	hi    uint16
	owner map[string][]portKey
}

type heldPort struct {
	owner string
	fd    int
	stop  func() // stops the proxy, when there is one
}

func newPortBook() *portBook {
	lo, hi := ephemeralRange()
	return &portBook{held: map[portKey]*heldPort{}, owner: map[string][]portKey{}, lo: lo, hi: hi, next: lo}
}

// errPortAllocated is dockerd's error for a host port another container
// has.
func errPortAllocated(ip netip.Addr, port uint16) error {
	return fmt.Errorf("Bind for %s failed: port is already allocated: %w", netip.AddrPortFrom(ip, port), errdefs.ErrConflict)
}

// conflicts says whether k clashes with a port already held: same proto,
// family and port, and one of the addresses is "any" or they are equal.
func (b *portBook) conflicts(k portKey) bool {
	for h := range b.held {
		if h.proto == k.proto && h.ip.Is6() == k.ip.Is6() && h.port == k.port && (h.ip.IsUnspecified() || k.ip.IsUnspecified() || h.ip == k.ip) {
			return true
		}
	}
	return false
}

// reserve binds k's host socket for owner. A port in use by a host
// process is refused with the bind error. When proxy is valid (the IPv6
// side of a TCP port, which the kernel cannot DNAT from ::1 or to an
// IPv4-only container), the socket listens and relays connections to
// proxy.
func (b *portBook) reserve(owner string, k portKey, proxy netip.AddrPort) error {
	if b.conflicts(k) {
		return errPortAllocated(k.ip, k.port)
	}
	if proxy.IsValid() && k.proto == "tcp" {
		ln, err := net.Listen("tcp6", netip.AddrPortFrom(k.ip, k.port).String())
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				err = errors.New("address already in use")
			}
			return fmt.Errorf("driver failed programming external connectivity: listen %s %s: bind: %w", k.proto, netip.AddrPortFrom(k.ip, k.port), err)
		}
		b.held[k] = &heldPort{owner: owner, fd: -1, stop: func() { ln.Close() }}
		b.owner[owner] = append(b.owner[owner], k)
		go relay(ln, proxy)
		return nil
	}
	fd, err := bindPort(k)
	if err != nil {
		return fmt.Errorf("driver failed programming external connectivity: listen %s %s: bind: %w", k.proto, netip.AddrPortFrom(k.ip, k.port), err)
	}
	b.held[k] = &heldPort{owner: owner, fd: fd}
	b.owner[owner] = append(b.owner[owner], k)
	return nil
}

// relay accepts connections on ln and copies each to and from target
// until ln is closed: the userland proxy, only where the kernel cannot
// forward.
func relay(ln net.Listener, target netip.AddrPort) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			defer c.Close()
			u, err := net.DialTimeout("tcp", target.String(), 10*time.Second)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				_, _ = io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(u, c)
			go pipe(c, u)
			<-done
			<-done
		}()
	}
}

// pick reserves a host port in [start, end] (an ephemeral one when both
// are 0) for the addresses keys need, all at the same port.
func (b *portBook) pick(owner string, start, end uint16, keys func(port uint16) []portKey, proxy func(portKey) netip.AddrPort) (uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	try := func(p uint16) error {
		ks := keys(p)
		for i, k := range ks {
			if err := b.reserve(owner, k, proxy(k)); err != nil {
				for _, done := range ks[:i] {
					b.releaseKey(owner, done)
				}
				return err
			}
		}
		return nil
	}
	if start != 0 && start == end {
		return start, try(start)
	}
	lo, hi, from := start, end, start
	if start == 0 {
		lo, hi, from = b.lo, b.hi, b.next
	}
	var last error
	p := from
	for n := 0; n <= int(hi-lo); n++ {
		if p < lo || p > hi {
			p = lo
		}
		if last = try(p); last == nil {
			if start == 0 {
				b.next = p + 1
			}
			return p, nil
		}
		p++
	}
	if start == 0 {
		return 0, fmt.Errorf("no free host port in %d-%d: %w", lo, hi, errdefs.ErrConflict)
	}
	return 0, last
}

func (b *portBook) releaseKey(owner string, k portKey) {
	h, ok := b.held[k]
	if !ok || h.owner != owner {
		return
	}
	if h.stop != nil {
		h.stop()
	}
	if h.fd >= 0 {
		syscall.Close(h.fd)
	}
	delete(b.held, k)
	keys := b.owner[owner]
	for i, o := range keys {
		if o == k {
			b.owner[owner] = append(keys[:i:i], keys[i+1:]...)
			break
		}
	}
	if len(b.owner[owner]) == 0 {
		delete(b.owner, owner)
	}
}

// release frees every port owner holds.
func (b *portBook) release(owner string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range append([]portKey(nil), b.owner[owner]...) {
		b.releaseKey(owner, k)
	}
}

// bindPort binds (without listening) a socket on k's address and port.
func bindPort(k portKey) (int, error) {
	family, typ := syscall.AF_INET, syscall.SOCK_STREAM
	if k.ip.Is6() {
		family = syscall.AF_INET6
	}
	if k.proto == "udp" {
		typ = syscall.SOCK_DGRAM
	}
	fd, err := syscall.Socket(family, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var sa syscall.Sockaddr
	if k.ip.Is6() {
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 1); err != nil {
			syscall.Close(fd)
			return -1, err
		}
		sa = &syscall.SockaddrInet6{Port: int(k.port), Addr: k.ip.As16()}
	} else {
		sa = &syscall.SockaddrInet4{Port: int(k.port), Addr: k.ip.As4()}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		if errors.Is(err, syscall.EADDRINUSE) {
			return -1, errors.New("address already in use")
		}
		return -1, err
	}
	return fd, nil
}
