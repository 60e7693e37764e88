package dns

import (
	"net/netip"
	"slices"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestStoreLookup(t *testing.T) {
	t.Parallel()
	s := NewStore()
	s.Set("c1", "neta", []string{"Web", "www", "c1short"}, addrs("10.0.0.2", "fd00::2"))
	s.Set("c2", "netb", []string{"db"}, addrs("10.1.0.2"))
	s.Set("c3", "neta", []string{"v6only"}, addrs("fd00::3"))
	s.Set("c4", "netb", []string{"both"}, addrs("10.1.0.4"))
	s.Set("c5", "neta", []string{"both"}, addrs("10.0.0.5"))

	tests := []struct {
		name     string
		networks []string
		query    string
		qtype    uint16
		want     []netip.Addr
	}{
		{"name", []string{"neta"}, "web", mdns.TypeA, addrs("10.0.0.2")},
		{"upper case query", []string{"neta"}, "WEB", mdns.TypeA, addrs("10.0.0.2")},
		{"upper case set", []string{"neta"}, "Web", mdns.TypeA, addrs("10.0.0.2")},
		{"trailing dot", []string{"neta"}, "web.", mdns.TypeA, addrs("10.0.0.2")},
		{"alias", []string{"neta"}, "www", mdns.TypeA, addrs("10.0.0.2")},
		{"short id", []string{"neta"}, "c1short", mdns.TypeA, addrs("10.0.0.2")},
		{"aaaa", []string{"neta"}, "web", mdns.TypeAAAA, addrs("fd00::2")},
		{"other network", []string{"neta"}, "db", mdns.TypeA, nil},
		{"no scope", nil, "web", mdns.TypeA, nil},
		{"unknown network", []string{"nope"}, "web", mdns.TypeA, nil},
		{"v6 only asked A", []string{"neta"}, "v6only", mdns.TypeA, nil},
		{"other type", []string{"neta"}, "web", mdns.TypeMX, nil},
		{"union", []string{"neta", "netb"}, "db", mdns.TypeA, addrs("10.1.0.2")},
		{"duplicate scope", []string{"netb", "netb"}, "db", mdns.TypeA, addrs("10.1.0.2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Lookup(tc.networks, tc.query, tc.qtype)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Lookup(%q, %q, %d) = %v, want %v", tc.networks, tc.query, tc.qtype, got, tc.want)
			}
		})
	}

	// A name on two networks in scope: both addresses, in either order.
	got := s.Lookup([]string{"neta", "netb"}, "both", mdns.TypeA)
	slices.SortFunc(got, netip.Addr.Compare)
	if want := addrs("10.0.0.5", "10.1.0.4"); !slices.Equal(got, want) {
		t.Errorf("Lookup(union, both) = %v, want %v", got, want)
	}

	// Known with no address of the type, versus unknown.
	if _, known := s.lookup(nil, []string{"neta"}, "v6only", mdns.TypeA); !known {
		t.Error("lookup(v6only, A) not known, want known with no addresses")
	}
	if _, known := s.lookup(nil, []string{"neta"}, "db", mdns.TypeA); known {
		t.Error("lookup(db) known on neta, want unknown (it is on netb)")
	}
}

func TestStoreRoundRobin(t *testing.T) {
	t.Parallel()
	s := NewStore()
	for i, ip := range []string{"10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		s.Set(string(rune('a'+i)), "net", []string{"replica" + ip, "svc"}, addrs(ip))
	}
	firsts := map[netip.Addr]int{}
	var prev netip.Addr
	for i := range 9 {
		got := s.Lookup([]string{"net"}, "svc", mdns.TypeA)
		if len(got) != 3 {
			t.Fatalf("Lookup(svc) = %v, want 3 addresses", got)
		}
		sorted := slices.Clone(got)
		slices.SortFunc(sorted, netip.Addr.Compare)
		if want := addrs("10.0.0.2", "10.0.0.3", "10.0.0.4"); !slices.Equal(sorted, want) {
			t.Fatalf("Lookup(svc) = %v, want %v in some order", got, want)
		}
		if i > 0 && got[0] == prev {
			t.Errorf("lookup %d starts with %v again, want the next owner", i, got[0])
		}
		prev = got[0]
		firsts[got[0]]++
	}
	for a, n := range firsts {
		if n != 3 {
			t.Errorf("%v came first %d times in 9 lookups, want 3 (%v)", a, n, firsts)
		}
	}
	// Rotation goes on across an unrelated write to the network.
	before := s.Lookup([]string{"net"}, "svc", mdns.TypeA)[0]
	s.Set("z", "net", []string{"other"}, addrs("10.0.0.9"))
	if after := s.Lookup([]string{"net"}, "svc", mdns.TypeA)[0]; after == before {
		t.Errorf("after a write, lookup starts with %v again", after)
	}
}

func TestStoreReplaceRemove(t *testing.T) {
	t.Parallel()
	s := NewStore()
	a := []string{"a"}
	s.Set("c1", "a", []string{"old", "shared"}, addrs("10.0.0.2"))
	s.Set("c1", "b", []string{"onb"}, addrs("10.1.0.2"))
	s.Set("c2", "a", []string{"shared"}, addrs("10.0.0.3"))

	s.Set("c1", "a", []string{"new"}, addrs("10.0.0.7"))
	if got := s.Lookup(a, "old", mdns.TypeA); got != nil {
		t.Errorf("after replace, Lookup(old) = %v, want none", got)
	}
	if got := s.Lookup(a, "new", mdns.TypeA); !slices.Equal(got, addrs("10.0.0.7")) {
		t.Errorf("after replace, Lookup(new) = %v, want 10.0.0.7", got)
	}
	if got := s.Lookup(a, "shared", mdns.TypeA); !slices.Equal(got, addrs("10.0.0.3")) {
		t.Errorf("after replace, Lookup(shared) = %v, want only c2's 10.0.0.3", got)
	}
	if got := s.Reverse(a, netip.MustParseAddr("10.0.0.2")); got != nil {
		t.Errorf("after replace, Reverse(old address) = %v, want none", got)
	}

	s.Remove("c1", "a")
	if got := s.Lookup(a, "new", mdns.TypeA); got != nil {
		t.Errorf("after Remove, Lookup(new) = %v, want none", got)
	}
	if got := s.Lookup([]string{"b"}, "onb", mdns.TypeA); got == nil {
		t.Error("Remove(c1, a) removed c1's record on b too")
	}
	s.Remove("nobody", "a") // no-op
	s.Remove("c1", "nonet") // no-op

	s.RemoveOwner("c1")
	if got := s.Lookup([]string{"b"}, "onb", mdns.TypeA); got != nil {
		t.Errorf("after RemoveOwner, Lookup(onb) = %v, want none", got)
	}
	if got := s.Lookup(a, "shared", mdns.TypeA); !slices.Equal(got, addrs("10.0.0.3")) {
		t.Errorf("RemoveOwner(c1) touched c2: Lookup(shared) = %v", got)
	}

	s.Set("c2", "a", nil, nil) // no names: removes
	if _, known := s.lookup(nil, a, "shared", mdns.TypeA); known {
		t.Error("Set with no names left the record")
	}
	if n := len(s.snap.Load().nets); n != 0 {
		t.Errorf("empty store keeps %d network tables", n)
	}
}

func TestStoreReverse(t *testing.T) {
	t.Parallel()
	s := NewStore()
	s.Set("c1", "mynet", []string{"Web", "alias"}, addrs("10.0.0.2", "fd00::2"))
	s.Set("c2", "other", []string{"db"}, addrs("10.9.0.2"))
	tests := []struct {
		networks []string
		ip       string
		want     []string
	}{
		{[]string{"mynet"}, "10.0.0.2", []string{"web.mynet."}},
		{[]string{"mynet"}, "::ffff:10.0.0.2", []string{"web.mynet."}},
		{[]string{"mynet"}, "fd00::2", []string{"web.mynet."}},
		{[]string{"mynet"}, "10.9.0.2", nil},
		{[]string{"mynet", "other"}, "10.9.0.2", []string{"db.other."}},
		{nil, "10.0.0.2", nil},
	}
	for _, tc := range tests {
		if got := s.Reverse(tc.networks, netip.MustParseAddr(tc.ip)); !slices.Equal(got, tc.want) {
			t.Errorf("Reverse(%q, %s) = %q, want %q", tc.networks, tc.ip, got, tc.want)
		}
	}
}

func TestStoreConcurrent(t *testing.T) {
	t.Parallel()
	s := NewStore()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				id := string(rune('a' + w))
				s.Set(id, "net", []string{"svc", id}, addrs("10.0.0.2"))
				if i%3 == 0 {
					s.RemoveOwner(id)
				}
			}
		})
		wg.Go(func() {
			for range 500 {
				for _, a := range s.Lookup([]string{"net"}, "svc", mdns.TypeA) {
					if a != netip.MustParseAddr("10.0.0.2") {
						t.Errorf("Lookup returned %v", a)
					}
				}
				s.Reverse([]string{"net"}, netip.MustParseAddr("10.0.0.2"))
			}
		})
	}
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	s := NewStore()
	for i := range 200 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 2)})
		names := []string{"container" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		if i < 3 {
			names = append(names, "svc")
		}
		s.Set(string(rune(i)), "net", names, []netip.Addr{ip})
	}
	scope := []string{"net", "other"}
	var dst [8]netip.Addr
	b.ReportAllocs()
	for b.Loop() {
		got, _ := s.lookup(dst[:0], scope, "svc", mdns.TypeA)
		if len(got) != 3 {
			b.Fatalf("lookup = %v", got)
		}
	}
}
