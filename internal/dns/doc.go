// Package dns is Shoal's embedded DNS resolver: the server containers on
// user-defined networks reach at 127.0.0.11, as Docker's, to find each
// other by name.
//
// It imports nothing of the engine or the network package. They push
// records into a Store (Set, Remove, RemoveOwner) as containers start,
// connect, disconnect and stop, and ask the Server to Listen in a
// container's network namespace; this package never asks them anything
// but the scope function they hand to Listen.
//
// # Glossary
//
//   - owner: the container a record belongs to, by ID. An owner has one
//     record per network it is on: a list of names and its addresses there.
//   - name: what a record answers for: the container's name, its network
//     aliases, its short ID, its hostname. Names are case-insensitive and
//     stored lower-case; the first name of a record is its primary name,
//     the one answered for PTR queries. Several owners may share a name
//     (an alias on replicas): a query returns all of their addresses,
//     starting with the next owner each time (round robin).
//   - network: a network's name, as Docker's "name.network" form and PTR
//     answers ("web.mynet.") use it.
//   - scope: the networks a querying container is connected to, given by
//     the function passed to Listen and called per query. A container only
//     resolves names of its own networks.
//   - upstream: a resolver outside Shoal (the host's resolv.conf servers,
//     or dockerd's --dns) that names not in scope are forwarded to.
//
// # Answers
//
// As Docker's resolver: a name is looked up with or without its trailing
// dot, case-insensitively, over every network in scope, and then as
// "name.network" for a network in scope ("web.mynet"). A and AAAA queries
// of a known name are answered from the Store with a 600 s TTL; a known
// name with no address of the asked type (or asked another type) gets
// NOERROR with no answers, never NXDOMAIN and never a forward. PTR queries
// for addresses in scope are answered "<primary name>.<network>.".
// Everything else goes to the upstreams in order (at most 3, each bounded
// by a 4 s timeout, as Docker): UDP queries over UDP, retried over TCP to
// the same upstream when the answer is truncated; TCP queries over TCP.
// The first answer that is not SERVFAIL or REFUSED is passed back with the
// client's ID, truncated (TC set) to what the client accepts over UDP. No
// upstream, or none that answers, gives SERVFAIL, as Docker.
//
// # Sockets and namespaces
//
// Listen opens the container's UDP and TCP sockets on 127.0.0.11:53 from
// a locked OS thread that has entered the container's network namespace;
// the thread is never unlocked, so Go discards it instead of reusing it in
// that namespace. A socket stays in the namespace it was made in, so the
// goroutines that serve it run on ordinary daemon threads, and the
// sockets opened to forward queries upstream are made in the daemon's own
// namespace: host-side resolvers such as 127.0.0.53 work, as with Docker.
// The namespace's lo must be up before Listen. Open sockets keep a
// namespace alive: Close(id) must be called when the container's network
// stack goes.
//
// Each listener has one goroutine reading its UDP socket, which answers
// queries from the Store on the spot; a query that must go upstream gets
// its own goroutine, at most 1024 per listener (more are REFUSED, as
// Docker). TCP clients get a goroutine per connection, at most
// Config.MaxTCPConns per listener, closed after 10 s idle.
//
// # Invariants
//
//   - Readers never lock: the Store publishes an immutable snapshot per
//     write, and only the rotation counters are shared (atomics).
//   - Hostile input cannot crash the daemon: messages too short to have a
//     header are dropped, responses (QR set) are never answered, messages
//     that do not parse get FORMERR, opcodes other than QUERY get
//     NOTIMP, and every handler recovers from panics.
//   - A forwarding loop (an upstream that resolves through us) does not
//     amplify: queries are forwarded with a fresh ID, and a query that
//     comes back with the ID and question of one of our own forwards in
//     flight is answered SERVFAIL instead of being forwarded again.
//
// # Caveats
//
//   - SRV, MX-as-implicit and Docker's ndots rule are not implemented; any
//     type but A, AAAA and PTR for a known name gets an empty NOERROR
//     (Docker forwards those, except MX).
//   - Answers from upstreams are not cached.
package dns
