package network

import (
	"net/netip"
	"time"
)

// Drivers of the networks a host has.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// Network is a network as stored: a user-defined or the default bridge,
// or one of the predefined host and none networks (no kernel objects).
type Network struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Driver  string    `json:"driver"`
	Created time.Time `json:"created"`
	// Bridge is the kernel bridge's name ("" for host and none).
	Bridge     string            `json:"bridge,omitempty"`
	IPv4       bool              `json:"ipv4"`
	IPv6       bool              `json:"ipv6"`
	Internal   bool              `json:"internal,omitempty"`
	Attachable bool              `json:"attachable,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Subnets are the pools, v4 first; ipam holds their allocations.
	Subnets []Subnet `json:"subnets,omitempty"`
	// Default marks the default bridge network ("bridge"): no embedded
	// DNS, links instead.
	Default bool `json:"default,omitempty"`
	// ICC allows traffic between containers on the bridge (option
	// com.docker.network.bridge.enable_icc).
	ICC bool `json:"icc"`
	// Masquerade NATs egress (com.docker.network.bridge.enable_ip_masquerade).
	Masquerade bool `json:"masquerade"`
	MTU        int  `json:"mtu,omitempty"`
}

// Subnet is one address pool of a network.
type Subnet struct {
	Subnet  netip.Prefix          `json:"subnet"`
	IPRange netip.Prefix          `json:"ip_range,omitzero"`
	Gateway netip.Addr            `json:"gateway"`
	Aux     map[string]netip.Addr `json:"aux,omitempty"`
	// User says the user gave the subnet (dockerd allows --ip only then).
	User bool `json:"user,omitempty"`
}

// IsBridge says whether the network has a kernel bridge.
func (n *Network) IsBridge() bool { return n.Driver == DriverBridge }

// Endpoint is a container's attachment to a network.
type Endpoint struct {
	NetworkID   string       `json:"network_id"`
	NetworkName string       `json:"network_name"`
	EndpointID  string       `json:"endpoint_id"`
	HostIfName  string       `json:"host_if"`
	IfName      string       `json:"if"`
	MAC         string       `json:"mac"`
	IPv4        netip.Prefix `json:"ipv4,omitzero"`
	IPv6        netip.Prefix `json:"ipv6,omitzero"`
	Gateway4    netip.Addr   `json:"gateway4,omitzero"`
	Gateway6    netip.Addr   `json:"gateway6,omitzero"`
	// Aliases are the user's --network-alias values; DNSNames every name
	// the embedded DNS answers for this endpoint.
	Aliases  []string `json:"aliases,omitempty"`
	DNSNames []string `json:"dns_names,omitempty"`
	// Requested are the --ip/--ip6 addresses asked for, kept so a
	// restart gets them again.
	Requested4 netip.Addr `json:"requested4,omitzero"`
	Requested6 netip.Addr `json:"requested6,omitzero"`
	Links      []string   `json:"links,omitempty"`
}

// PortMapping is a published port as bound; HostIP is 0.0.0.0 or ::
// for every address of its family.
type PortMapping struct {
	Proto         string     `json:"proto"`
	ContainerPort uint16     `json:"container_port"`
	HostIP        netip.Addr `json:"host_ip"`
	HostPort      uint16     `json:"host_port"`
}

// Sandbox is a container's network stack: its namespace, its endpoints
// and its published ports.
type Sandbox struct {
	ContainerID string        `json:"container_id"`
	Name        string        `json:"name"`
	NetNS       string        `json:"netns"`
	Endpoints   []Endpoint    `json:"endpoints"`
	Ports       []PortMapping `json:"ports,omitempty"`
	// Hosts are the /etc/hosts lines links add ("ip\tname alias").
	Hosts []string `json:"hosts,omitempty"`
	// Upstreams are the container's own DNS servers (--dns): the
	// embedded DNS forwards to them instead of the daemon's.
	Upstreams []netip.AddrPort `json:"upstreams,omitempty"`
}

// UsesEmbeddedDNS says whether the container's resolv.conf should point
// at the embedded resolver: it is on a user-defined network.
func (s *Sandbox) UsesEmbeddedDNS() bool {
	for _, ep := range s.Endpoints {
		if ep.NetworkName != "bridge" {
			return true
		}
	}
	return false
}

// EndpointRequest asks for a container's attachment to a network.
type EndpointRequest struct {
	// Network is the network's name, ID or unique ID prefix.
	Network string
	Aliases []string
	IPv4    netip.Addr
	IPv6    netip.Addr
	MAC     string
	// Links are legacy --link "container:alias" pairs.
	Links []string
}

// PortRequest is one -p binding: a host port range (both 0 for an
// ephemeral port) for a container port.
type PortRequest struct {
	Proto         string
	ContainerPort uint16
	HostIP        netip.Addr
	HostPortStart uint16
	HostPortEnd   uint16
}

// SandboxRequest asks for a container's network stack at start.
type SandboxRequest struct {
	ContainerID string
	// Name is the container's name, without Docker's leading "/".
	Name      string
	Hostname  string
	Endpoints []EndpointRequest
	Ports     []PortRequest
	// Upstreams are the container's --dns servers.
	Upstreams []netip.AddrPort
}
