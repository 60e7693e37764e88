package dns

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// Store holds the DNS records of containers, by network. It is safe for
// concurrent use: writers (Set, Remove, RemoveOwner) are serialised and
// publish an immutable snapshot; readers (Lookup, Reverse and the server)
// load that snapshot without taking a lock.
//
// The zero Store is not usable; call NewStore.
type Store struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[snapshot]
}

// snapshot is an immutable view of all networks. Writers copy the
// top-level map and rebuild only the network they change.
type snapshot struct {
	nets map[string]*netTable
}

// netTable is the immutable record set of one network.
type netTable struct {
	owners map[string]ownerRecord  // source of truth, by owner
	names  map[string]*nameSet     // lower-case name → the owners behind it
	ptr    map[netip.Addr][]string // address → primary names (usually one)
}

type ownerRecord struct {
	names []string // lower-case, deduplicated; names[0] is the primary
	addrs []netip.Addr
}

// nameSet is the owners answering for one name on one network, sorted by
// owner so the rotation order is stable.
type nameSet struct {
	next   *atomic.Uint32 // rotation counter, kept across rebuilds
	owners []ownerAddrs
}

type ownerAddrs struct {
	owner  string
	v4, v6 []netip.Addr
}

// NewStore returns an empty Store.
func NewStore() *Store {
	s := &Store{}
	s.snap.Store(&snapshot{nets: map[string]*netTable{}})
	return s
}

// Set replaces owner's records on network: names (the container's name,
// aliases, short ID, hostname, ... matched case-insensitively; the first
// is the primary name, answered for PTR queries) resolve to addrs. A name
// given with no addresses of a family is still known: queries for that
// family get an empty NOERROR answer. Set with no names removes owner from
// network, as Remove does.
func (s *Store) Set(owner, network string, names []string, addrs []netip.Addr) {
	rec := ownerRecord{}
	for _, n := range names {
		n = normalizeName(n)
		if n != "" && !slices.Contains(rec.names, n) {
			rec.names = append(rec.names, n)
		}
	}
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		a = a.Unmap().WithZone("")
		if !slices.Contains(rec.addrs, a) {
			rec.addrs = append(rec.addrs, a)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	t := old.nets[network]
	owners := make(map[string]ownerRecord, len(ownersOf(t))+1)
	for k, v := range ownersOf(t) {
		owners[k] = v
	}
	if len(rec.names) == 0 {
		if _, ok := owners[owner]; !ok {
			return
		}
		delete(owners, owner)
	} else {
		owners[owner] = rec
	}
	s.publish(old, network, owners)
}

// Remove drops owner's records on network.
func (s *Store) Remove(owner, network string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	t := old.nets[network]
	if _, ok := ownersOf(t)[owner]; !ok {
		return
	}
	owners := make(map[string]ownerRecord, len(t.owners))
	for k, v := range t.owners {
		if k != owner {
			owners[k] = v
		}
	}
	s.publish(old, network, owners)
}

// RemoveOwner drops owner's records on every network.
func (s *Store) RemoveOwner(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for network, t := range s.snap.Load().nets {
		if _, ok := t.owners[owner]; !ok {
			continue
		}
		owners := make(map[string]ownerRecord, len(t.owners))
		for k, v := range t.owners {
			if k != owner {
				owners[k] = v
			}
		}
		s.publish(s.snap.Load(), network, owners)
	}
}

// Lookup returns the addresses name resolves to over the union of
// networks: the IPv4 ones for qtype A (mdns.TypeA), the IPv6 ones for
// AAAA, none for any other type. name is matched case-insensitively, with
// or without a trailing dot. When several owners answer for the name, each
// call starts with the next one (round robin), so clients that take the
// first address spread over them.
func (s *Store) Lookup(networks []string, name string, qtype uint16) []netip.Addr {
	addrs, _ := s.lookup(nil, networks, normalizeName(name), qtype)
	return addrs
}

// lookup appends to dst the addresses of the already normalised name, as
// Lookup does, and reports whether the name is known in scope at all.
func (s *Store) lookup(dst []netip.Addr, networks []string, name string, qtype uint16) ([]netip.Addr, bool) {
	snap := s.snap.Load()
	var buf [4]*nameSet
	sets := buf[:0]
	total := 0
	for i, n := range networks {
		if slices.Contains(networks[:i], n) {
			continue // a network listed twice counts once
		}
		t := snap.nets[n]
		if t == nil {
			continue
		}
		if ns := t.names[name]; ns != nil {
			sets = append(sets, ns)
			total += len(ns.owners)
		}
	}
	if len(sets) == 0 {
		return dst, false
	}
	if qtype != mdns.TypeA && qtype != mdns.TypeAAAA {
		return dst, true
	}
	start := 0
	if total > 1 {
		start = int((sets[0].next.Add(1) - 1) % uint32(total))
	}
	for i := range total {
		k := (start + i) % total
		var o *ownerAddrs
		for _, ns := range sets {
			if k < len(ns.owners) {
				o = &ns.owners[k]
				break
			}
			k -= len(ns.owners)
		}
		if qtype == mdns.TypeA {
			dst = append(dst, o.v4...)
		} else {
			dst = append(dst, o.v6...)
		}
	}
	return dst, true
}

// Reverse returns the names answered for a PTR query of ip: for each
// network in scope where ip belongs to an owner, "<primary name>.<network>."
// as Docker answers.
func (s *Store) Reverse(networks []string, ip netip.Addr) []string {
	ip = ip.Unmap().WithZone("")
	snap := s.snap.Load()
	var out []string
	for i, n := range networks {
		if slices.Contains(networks[:i], n) {
			continue
		}
		t := snap.nets[n]
		if t == nil {
			continue
		}
		for _, name := range t.ptr[ip] {
			out = append(out, name+"."+n+".")
		}
	}
	return out
}

// publish builds network's table from owners and swaps in a new snapshot.
// Called with s.mu held.
func (s *Store) publish(old *snapshot, network string, owners map[string]ownerRecord) {
	nets := make(map[string]*netTable, len(old.nets)+1)
	for k, v := range old.nets {
		nets[k] = v
	}
	if len(owners) == 0 {
		delete(nets, network)
	} else {
		nets[network] = buildTable(old.nets[network], owners)
	}
	s.snap.Store(&snapshot{nets: nets})
}

func buildTable(prev *netTable, owners map[string]ownerRecord) *netTable {
	t := &netTable{
		owners: owners,
		names:  make(map[string]*nameSet),
		ptr:    make(map[netip.Addr][]string),
	}
	ids := make([]string, 0, len(owners))
	for id := range owners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rec := owners[id]
		oa := ownerAddrs{owner: id}
		for _, a := range rec.addrs {
			if a.Is4() {
				oa.v4 = append(oa.v4, a)
			} else {
				oa.v6 = append(oa.v6, a)
			}
			t.ptr[a] = append(t.ptr[a], rec.names[0])
		}
		for _, n := range rec.names {
			ns := t.names[n]
			if ns == nil {
				ns = &nameSet{}
				if prev != nil && prev.names[n] != nil {
					ns.next = prev.names[n].next
				} else {
					ns.next = new(atomic.Uint32)
				}
				t.names[n] = ns
			}
			ns.owners = append(ns.owners, oa)
		}
	}
	return t
}

func ownersOf(t *netTable) map[string]ownerRecord {
	if t == nil {
		return nil
	}
	return t.owners
}

// normalizeName lower-cases the ASCII letters of name (DNS compares names
// ASCII case-insensitively) and drops one trailing dot. It allocates only
// when name has upper-case letters.
func normalizeName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			b := []byte(name)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return name
}
