// Package firewall keeps Shoal's packet-filter and NAT rules for bridge
// networks and published ports in nftables, through netlink
// (github.com/google/nftables): it never runs the nft binary.
//
// The caller describes what it wants as a plain State (networks and
// ports); Apply makes the kernel match it exactly, and the incremental
// helpers (AddPorts, RemovePorts, SetNetwork, RemoveNetwork) read the
// table back, change one part and apply the result. Every change is one
// nftables batch, which the kernel commits atomically: a failed call
// leaves the table as it was.
//
// # Foreign rules
//
// Every rule lives in Shoal's own table, "table inet <Config.Table>"
// ("shoal" by default). The package lists the names of tables and chains
// to find that table, and never creates, changes, flushes or deletes
// anything outside it: not the host's tables (ufw, firewalld, iptables-nft,
// Docker's), not a table of the same name in another family. Flush
// deletes Shoal's table whole, which leaves the host's rules exactly as
// they were. Inside its table Shoal owns everything: Apply deletes rules
// and chains it did not make.
//
// Because the table is separate, the usual nftables rules apply: a drop
// anywhere is final, but an accept only ends the chain it is in. A host
// firewall whose forward chain drops by policy therefore still drops
// container traffic unless it allows the bridges itself (for example a
// trusted firewalld zone); Shoal does not punch holes in it.
//
// # Table layout
//
//	table inet shoal {
//	  chain forward {           # filter, hook forward, priority filter, policy accept
//	    ct state established,related accept     # base established
//	    jump forward-internal                    # base jump-internal
//	    jump forward-published                   # base jump-published
//	    jump forward-isolation                   # base jump-isolation
//	  }
//	  chain forward-internal {  # per internal network on bridge B
//	    iifname B oifname != B drop              # net internal-out
//	    oifname B iifname != B drop              # net internal-in
//	  }
//	  chain forward-published { # per other network
//	    oifname B ct status dnat accept          # net published
//	  }
//	  chain forward-isolation {
//	    oifname B iifname != B drop              # net inbound (not internal)
//	    iifname B oifname B drop                 # net no-icc (ICC false)
//	  }
//	  chain prerouting {        # nat, hook prerouting, priority dstnat
//	    fib daddr type local jump dnat           # base prerouting-dnat
//	  }
//	  chain output {            # nat, hook output, priority dstnat
//	    fib daddr type local jump dnat           # base output-dnat
//	  }
//	  chain dnat {              # per port
//	    meta nfproto ipv4 [ip daddr H] meta l4proto tcp th dport P dnat ip to C:Q   # port ...
//	  }
//	  chain postrouting {       # nat, hook postrouting, priority srcnat; per non-internal network, per subnet S
//	    ip saddr S oifname != B masquerade                   # net masq:S (Masquerade)
//	    ip saddr S oifname B ct status dnat masquerade       # net hairpin:S
//	    ip saddr 127.0.0.0/8 oifname B masquerade            # net localhost
//	  }
//	}
//
// What this does, as Docker does it with iptables:
//   - Traffic out of a bridge is forwarded (the chain policy is accept:
//     Shoal does not own the host's forward policy). Traffic into a bridge
//     from anywhere else, other Shoal bridges included, is forwarded only
//     when it belongs to an established connection or was DNATed to a
//     published port: that is both the protection of containers from
//     routed traffic and Docker's DOCKER-ISOLATION between networks.
//   - An internal network forwards nothing in or out, published port or
//     not; it is never masqueraded.
//   - ICC=false drops traffic between ports of the same bridge except to
//     published ports. It only has an effect when br_netfilter hands
//     bridged frames to the IP hooks.
//   - A published port is DNATed for packets to a local address (or to
//     HostIP when set), both arriving (prerouting) and sent by the host
//     itself (output), so 127.0.0.1:P and every host address reach it.
//     Its family is ContainerIP's. Reaching it through 127.0.0.1 needs
//     route_localnet=1 on the bridge (package link sets it) and the
//     localhost masquerade; [::1] cannot be routed out and does not work.
//   - Hairpin: a container of the network reaching a published port
//     through a host address is masqueraded, so the reply comes back
//     through the host's conntrack (the bridge port needs hairpin mode
//     for a container reaching itself).
//
// # Tags
//
// Every rule carries a tag in its user data, stored as an nft comment
// (TLV type 0, NUL-terminated), so "nft list ruleset" shows it:
//
//	shoal/1 base <role>
//	shoal/1 net <role> br=<bridge> int=0|1 masq=0|1 icc=0|1 sub=<prefix>,...
//	shoal/1 port owner=<id> proto=tcp|udp|sctp hostip=<addr>|* hostport=<n> ctrip=<addr> ctrport=<n> br=<bridge>
//
// A tag is a rule's identity: Apply keeps a rule whose tag it wants,
// adds the wanted tags that are missing and deletes every other rule
// (untagged, duplicated, or of a state no longer wanted). A network
// rule's tag holds the network's whole spec, so Current can rebuild the
// State from any of its rules, and changing a network replaces its
// rules. The "shoal/1" version changes whenever the rules made for a tag
// change, so that a newer Shoal replaces an older one's rules. Tags fit
// in 253 bytes: a network with too many subnets (about five IPv6 ones)
// or a port with an overlong owner is refused (ErrInvalidArgument).
// Order only matters in the skeleton chains (forward, prerouting,
// output), which are rewritten whole when they differ; a chain of the
// wrong kind makes Apply rebuild the whole table in the same batch.
//
// # Caveats
//
//   - One rule per port: 1000 ports apply in about 0.1 s, but the kernel
//     finds a rule to delete by a linear search, so changes of tens of
//     thousands of rules take tens of seconds. A dnat map keyed by
//     protocol and port would scale; it is not done yet.
//   - Two ports may not share a protocol, family and host port unless
//     their host addresses are both specific and differ
//     (ErrConflict).
//   - Published ports into a network are accepted by "ct status dnat":
//     any DNAT into a Shoal bridge, the host's own included, is let in.
package firewall
