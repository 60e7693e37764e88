package ref

import (
	"net"
	"strings"
)

// IsLoopback reports whether registry (host, host:port, [v6]:port) is on
// this machine: "localhost", an address in 127.0.0.0/8, or ::1. Such
// registries are spoken to over plain HTTP, as Docker does; nothing else
// is, unless configured.
func IsLoopback(registry string) bool {
	h := registry
	if host, _, err := net.SplitHostPort(registry); err == nil {
		h = host
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if strings.EqualFold(h, localhost) {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
