//go:build !linux

package dns

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func listenInNetNS(path string, addr netip.AddrPort) (*net.UDPConn, *net.TCPListener, error) {
	return nil, nil, fmt.Errorf("network namespaces: %w", errdefs.ErrNotImplemented)
}
