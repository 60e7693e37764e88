package link

import (
	"net"
	"net/netip"
)

// Bridge is the wanted state of a network's bridge device.
type Bridge struct {
	// Name of the device (at most 15 bytes).
	Name string
	// Addrs are the gateway addresses with their subnet's length, for
	// example 172.18.0.1/16 and fd00:1::1/64. Other addresses on the
	// bridge are removed (IPv6 link-local ones excepted).
	Addrs []netip.Prefix
	// MTU of the bridge; 0 keeps the kernel's default.
	MTU int
	// IPv6 enables IPv6 on the bridge (disable_ipv6=0, accept_dad=0);
	// needed for IPv6 entries in Addrs.
	IPv6 bool
	// RouteLocalnet sets net.ipv4.conf.<name>.route_localnet=1, so
	// packets to 127.0.0.1 DNATed to a container may leave through the
	// bridge (published ports reached on the loopback address).
	RouteLocalnet bool
}

// Endpoint is the wanted state of one container attachment to a bridge.
type Endpoint struct {
	// HostIfName names the veth end left in the host's namespace.
	HostIfName string
	// Bridge is the name of the bridge the host side joins; it must exist.
	Bridge string
	// NetNS is the path of the container's netns file.
	NetNS string
	// IfName is the name of the container side inside NetNS ("eth0").
	IfName string
	// MAC of the container side; nil lets the kernel choose one.
	MAC net.HardwareAddr
	// Addrs of the container side, with the subnet's length. IPv6 ones are
	// added without duplicate address detection, usable at once. IPv6 is
	// disabled on the container side when there is none, as Docker does.
	Addrs []netip.Prefix
	// Gateways (IPv4 and/or IPv6) the default routes go through when
	// DefaultRoute is set.
	Gateways []netip.Addr
	// DefaultRoute says whether this endpoint carries the container's
	// default routes: true for the first endpoint of a container with a
	// gateway, false for the others.
	DefaultRoute bool
	// MTU of both veth ends; 0 keeps the kernel's default.
	MTU int
	// Hairpin turns on hairpin mode on the bridge port, so a container
	// can reach itself through one of its published ports.
	Hairpin bool
}
