// Package link is the kernel side of Shoal's bridge networks: it makes
// network namespaces, bridges and veth pairs match plain values it is
// given. It decides nothing: which addresses, names, MACs and routes an
// endpoint gets is worked out by package network (and ipam) and handed
// over as a Bridge or an Endpoint.
//
// # Glossary
//
//   - netns file: a file a network namespace is bind-mounted on
//     (NewNetNS), so the namespace lives without a process in it; it dies
//     when the file is unmounted (DeleteNetNS) and nothing else holds it.
//   - bridge: a Linux bridge device holding the gateway addresses of one
//     network (EnsureBridge).
//   - endpoint: a container's attachment to one bridge: a veth pair whose
//     host side is a port of the bridge and whose container side lives in
//     the container's netns as IfName ("eth0", "eth1", ...) with its MAC,
//     addresses and routes (AddEndpoint).
//   - host side: the veth end left in the daemon's namespace, named by
//     Endpoint.HostIfName; it names the endpoint in RemoveEndpoint,
//     EndpointExists and ListLinks. Deleting it deletes the container side.
//
// # Which namespace
//
// Bridges, host sides and sysctls are made in the network namespace of
// the calling thread: the daemon calls from its own namespace; tests call
// through InNetNS with a namespace of their own, so they never touch the
// real host's links. Work inside a container's namespace goes through a
// netlink handle bound to it; only NewNetNS, InNetNS and the per-interface
// IPv6 sysctl of a container side switch a thread's namespace, on a
// locked thread that is never handed back to the Go scheduler (the
// goroutine exits still locked and Go discards the thread).
//
// # Idempotence
//
// EnsureBridge, DeleteBridge, EnableForwarding, RemoveEndpoint and
// DeleteNetNS can be repeated: they converge on the state asked for and
// treat "already gone" as success. So after a daemon restart the network
// manager reconciles by re-ensuring what it knows and removing, found with
// ListLinks, what it does not. AddEndpoint is all-or-nothing instead: it
// refuses a host name already in use (ErrAlreadyExists) and, when any step
// fails, deletes the veth pair it made.
//
// Sysctls are read before they are written and left alone when they
// already hold the wanted value, so a read-only /proc/sys/net that is
// already right is not an error.
package link
