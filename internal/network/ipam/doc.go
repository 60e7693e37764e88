// Package ipam manages the IP addresses of Shoal's bridge networks, as
// dockerd's default IPAM driver does: the subnets of docker network
// create (--subnet, --ip-range, --gateway, --aux-address, --ipv6) and the
// addresses of docker run / network connect (--ip, --ip6). It is pure Go
// over a bbolt database the caller owns; nothing here touches the kernel.
//
// # Glossary
//
//   - pool: one subnet of a network (Pool): the prefix, the IP range
//     that addresses are picked from (all of the subnet unless
//     --ip-range), the gateway and the auxiliary addresses. No two pools
//     anywhere share an address. A network may have several, tried in the
//     order added (the network manager gives it one per family).
//   - reserved address: one never handed out: the subnet's first address
//     (IPv4 network address, IPv6 subnet-router anycast), the IPv4
//     broadcast address (neither in an IPv4 /31 or /32), the gateway and
//     the auxiliary addresses.
//   - allocation: an address handed out to an owner, recorded until it
//     is released.
//   - owner: whoever holds an allocation, a container (or endpoint) ID;
//     ReleaseOwner gives back all its addresses at once.
//
// # Choosing addresses
//
// ParsePool checks a subnet as dockerd does, with its messages, and picks
// the default gateway: the lowest address of the IP range that is not
// reserved (so with --ip-range 10.0.5.0/24 in 10.0.0.0/16 the gateway is
// 10.0.5.0, as dockerd makes it). DefaultPool picks the first free
// candidate among DefaultV4Pools (dockerd's 172.17-31.0.0/16, then the
// /20s of 192.168.0.0/16) or DefaultV6Pools (the /64s of a unique local
// /48 derived from the engine ID, as dockerd 27 and later do).
//
// Allocate hands out the lowest free address of the IP range, as dockerd
// does on local networks (its round-robin "serial" mode is only for swarm
// networks), so an address just released is the next one handed out. It
// walks the recorded allocations, not a bitmap, so an IPv6 /64 costs
// what its allocations cost. A requested address may be anywhere in the
// subnet, outside the IP range too.
//
// # Persistence
//
// Pools and allocations live in the database, nowhere else: every
// mutating method is one bbolt transaction, so a crash never leaves half
// a pool or an address recorded without its owner, and the Allocator
// answers the same after the database is closed and reopened. Layout:
//
//	ipam/                            top-level bucket
//	└── <network id>/
//	    └── <seq: uint64 BE>/        one pool, in the order it was added
//	        ├── pool: JSON           {"subnet","ip_range","gateway","aux"}
//	        └── addrs/
//	            └── <addr>: <owner>  addr as 4 (IPv4) or 16 bytes, so keys
//	                                 sort in address order
//
// Reserved addresses are not stored as allocations: they follow from the
// pool record. Each record is checked again when read; one that fails is
// an error, never a panic.
//
// # Caveats
//
//   - dockerd lets two networks share a subnet when both give an
//     --ip-range (moby#46756); here any overlap is refused.
//   - Allocate picks the address family itself when asked for none (see
//     its doc); callers that know the family pass 0.0.0.0 or ::.
package ipam
