package link

import (
	"crypto/rand"
	"net"
	"net/netip"
)

// MACFromIP returns the MAC address Docker long derived from a container's
// IPv4 address: 02:42 followed by the address's four bytes. It returns nil
// for an address that is not IPv4 (IPv4-mapped IPv6 counts as IPv4).
func MACFromIP(ip netip.Addr) net.HardwareAddr {
	ip = ip.Unmap()
	if !ip.Is4() {
		return nil
	}
	a := ip.As4()
	return net.HardwareAddr{0x02, 0x42, a[0], a[1], a[2], a[3]}
}

// RandomMAC returns a random locally administered unicast MAC address.
func RandomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac) // crypto/rand.Read never fails
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}
