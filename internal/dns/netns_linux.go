package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// listenInNetNS opens a UDP and a TCP socket bound at addr inside the
// network namespace bound at path. The sockets are made on a locked
// thread that entered the namespace; that thread is never unlocked, so it
// ends with its goroutine and Go never reuses it in the wrong namespace.
// A socket keeps the namespace it was made in: reading and writing them
// from any other thread afterwards is fine.
func listenInNetNS(path string, addr netip.AddrPort) (*net.UDPConn, *net.TCPListener, error) {
	type result struct {
		udp *net.UDPConn
		tcp *net.TCPListener
		err error
	}
	res := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err != nil {
			res <- result{err: fmt.Errorf("open netns: %w", err)}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			res <- result{err: fmt.Errorf("enter netns %s: %w", path, err)}
			return
		}
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			res <- result{err: fmt.Errorf("open dns udp socket in netns %s: %w", path, err)}
			return
		}
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		if err != nil {
			res <- result{err: errors.Join(fmt.Errorf("open dns tcp socket in netns %s: %w", path, err), udp.Close())}
			return
		}
		res <- result{udp: udp, tcp: tcp}
	}()
	r := <-res
	return r.udp, r.tcp, r.err
}
