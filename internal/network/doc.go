// Package network owns a host's networks and the containers' network
// stacks: the default bridge and user-defined bridge networks, their
// address pools (package ipam), the kernel objects (package link: bridges,
// veth pairs, namespaces), the packet rules (package firewall: Shoal's
// own nftables table), published ports, and the records and listeners of
// the embedded DNS (package dns).
//
// Glossary:
//   - network: a bridge (or the predefined host and none networks),
//     stored in network.db with its pools.
//   - sandbox: a container's network stack: a network namespace bound at
//     <exec-root>/netns/<container id>, its endpoints and ports.
//   - endpoint: a container's attachment to one network: a veth pair
//     whose host side (named "shv…") is a port of the network's bridge,
//     and the addresses ipam handed out.
//   - published port: a host port DNATed to a container port; the host
//     port is held by a bound socket in the daemon so nothing else on
//     the host can take it.
//
// Everything the manager makes is stored before or as it is made, and
// Restore (at daemon start) reconciles the kernel with what is stored:
// stacks of containers that stopped while the daemon was down are torn
// down, and links and rules Shoal made but no longer knows are removed.
// Only objects with Shoal's prefixes and Shoal's own table are ever
// touched.
package network
