package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// openDB opens a bbolt file; the caller closes it.
func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open(%q) = %v", path, err)
	}
	return db
}

// newAllocator returns an Allocator over a fresh database that, on
// cleanup, is checked for invariants and closed.
func newAllocator(t *testing.T) *Allocator {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "network.db"))
	a, err := New(db)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() {
		checkInvariants(t, a)
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return a
}

// checkInvariants asserts what must hold whatever the test did: no two
// pools overlap, every allocation lies in its network's subnets and is
// not reserved.
func checkInvariants(t *testing.T, a *Allocator) {
	t.Helper()
	all, err := a.Pools()
	if err != nil {
		t.Errorf("Pools() = %v", err)
		return
	}
	var subnets []netip.Prefix
	for id, pools := range all {
		for _, p := range pools {
			for _, o := range subnets {
				if Overlaps(o, p.Subnet) {
					t.Errorf("invariant: pool %v of %s overlaps %v", p.Subnet, id, o)
				}
			}
			subnets = append(subnets, p.Subnet)
		}
		allocs, err := a.Allocations(id)
		if err != nil {
			t.Errorf("Allocations(%s) = %v", id, err)
			continue
		}
	next:
		for addr, owner := range allocs {
			for _, p := range pools {
				if p.Subnet.Contains(addr) {
					if p.reserved()[addr] {
						t.Errorf("invariant: %s holds reserved address %v of %s", owner, addr, id)
					}
					continue next
				}
			}
			t.Errorf("invariant: %s holds %v outside the pools of %s", owner, addr, id)
		}
	}
}

func mustAddPool(t *testing.T, a *Allocator, netID, subnet, ipRange, gateway string, aux map[string]string) Pool {
	t.Helper()
	p, err := ParsePool(subnet, ipRange, gateway, aux)
	if err != nil {
		t.Fatalf("ParsePool(%q, %q, %q) = %v", subnet, ipRange, gateway, err)
	}
	if err := a.AddPool(netID, p); err != nil {
		t.Fatalf("AddPool(%s, %v) = %v", netID, p.Subnet, err)
	}
	return p
}

func mustAllocate(t *testing.T, a *Allocator, netID, owner string, want netip.Addr) netip.Prefix {
	t.Helper()
	_, got, err := a.Allocate(netID, owner, want)
	if err != nil {
		t.Fatalf("Allocate(%s, %s, %v) = %v", netID, owner, want, err)
	}
	return got
}

// allocSeq allocates n addresses for owners o0..o(n-1) and returns them.
func allocSeq(t *testing.T, a *Allocator, netID string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		out = append(out, mustAllocate(t, a, netID, fmt.Sprintf("o%d", i), netip.Addr{}).String())
	}
	return out
}

func TestAllocateOrder(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/24", "", "", nil)
	addr, pfx, err := a.Allocate("n1", "c1", netip.Addr{})
	if err != nil || addr != maddr("10.0.0.2") || pfx != mpfx("10.0.0.2/24") {
		t.Fatalf("Allocate() = %v, %v, %v; want 10.0.0.2, 10.0.0.2/24", addr, pfx, err)
	}
	if got, want := allocSeq(t, a, "n1", 3), []string{"10.0.0.3/24", "10.0.0.4/24", "10.0.0.5/24"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allocations = %v, want %v", got, want)
	}
}

func TestAllocateSkipsReserved(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/24", "", "10.0.0.3", map[string]string{"x": "10.0.0.1", "y": "10.0.0.5"})
	if got, want := allocSeq(t, a, "n1", 3), []string{"10.0.0.2/24", "10.0.0.4/24", "10.0.0.6/24"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allocations = %v, want %v", got, want)
	}
}

func TestAllocateIPRange(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	// dockerd hands out the range's first address when it is not the
	// subnet's network address (docker/for-linux#170).
	mustAddPool(t, a, "n1", "10.0.0.0/24", "10.0.0.128/25", "10.0.0.1", nil)
	mustAllocate(t, a, "n1", "fixed", maddr("10.0.0.129"))
	if got, want := allocSeq(t, a, "n1", 2), []string{"10.0.0.128/24", "10.0.0.130/24"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allocations = %v, want %v", got, want)
	}
	// Outside the range but inside the subnet may be asked for.
	if got := mustAllocate(t, a, "n1", "out", maddr("10.0.0.9")); got != mpfx("10.0.0.9/24") {
		t.Errorf("Allocate(10.0.0.9) = %v", got)
	}

	mustAddPool(t, a, "n2", "172.28.0.0/16", "172.28.5.0/24", "", nil)
	if got, want := allocSeq(t, a, "n2", 2), []string{"172.28.5.1/16", "172.28.5.2/16"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allocations = %v, want %v (gateway 172.28.5.0)", got, want)
	}
}

func TestReleaseAndReallocate(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/24", "10.0.0.0/29", "", nil)
	// .0 network, .1 gateway: .2-.7 are the range's six addresses.
	got := allocSeq(t, a, "n1", 6)
	if want := []string{"10.0.0.2/24", "10.0.0.3/24", "10.0.0.4/24", "10.0.0.5/24", "10.0.0.6/24", "10.0.0.7/24"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("allocations = %v, want %v", got, want)
	}
	if _, _, err := a.Allocate("n1", "late", netip.Addr{}); !errors.Is(err, ErrNoAvailableIPs) {
		t.Fatalf("Allocate() on a full range = %v, want ErrNoAvailableIPs", err)
	}
	for _, addr := range []string{"10.0.0.5", "10.0.0.3"} {
		if err := a.Release("n1", maddr(addr)); err != nil {
			t.Fatalf("Release(%s) = %v", addr, err)
		}
	}
	// As dockerd on a local network: the lowest free address comes back
	// first, from anywhere in the range.
	if got := mustAllocate(t, a, "n1", "again1", netip.Addr{}); got != mpfx("10.0.0.3/24") {
		t.Errorf("Allocate() after release = %v, want 10.0.0.3/24", got)
	}
	if got := mustAllocate(t, a, "n1", "again2", netip.Addr{}); got != mpfx("10.0.0.5/24") {
		t.Errorf("Allocate() after release = %v, want 10.0.0.5/24", got)
	}
	allocs, err := a.Allocations("n1")
	if err != nil {
		t.Fatal(err)
	}
	if allocs[maddr("10.0.0.3")] != "again1" || allocs[maddr("10.0.0.5")] != "again2" || allocs[maddr("10.0.0.7")] != "o5" || len(allocs) != 6 {
		t.Errorf("Allocations() = %v", allocs)
	}
	// Releasing what nobody holds is not an error; reserved addresses
	// and foreign ones cannot be released.
	if err := a.Release("n1", maddr("10.0.0.200")); err != nil {
		t.Errorf("Release(free address) = %v, want nil", err)
	}
	for _, addr := range []string{"10.0.0.0", "10.0.0.1", "10.0.0.255", "10.9.0.1"} {
		if err := a.Release("n1", maddr(addr)); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Release(%s) = %v, want ErrInvalidArgument", addr, err)
		}
	}
	if err := a.Release("nope", maddr("10.0.0.2")); !errdefs.IsNotFound(err) {
		t.Errorf("Release on unknown network = %v, want ErrNotFound", err)
	}
}

func TestExhaustion(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/30", "", "", nil)
	if got := mustAllocate(t, a, "n1", "c1", netip.Addr{}); got != mpfx("10.0.0.2/30") {
		t.Fatalf("Allocate() = %v, want 10.0.0.2/30", got)
	}
	_, _, err := a.Allocate("n1", "c2", netip.Addr{})
	if !errors.Is(err, ErrNoAvailableIPs) || !errdefs.IsUnavailable(err) {
		t.Fatalf("Allocate() on a full /30 = %v, want ErrNoAvailableIPs (ErrUnavailable)", err)
	}
	if want := "no available IPv4 addresses on this network's address pools: unavailable"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if err := a.ReleaseOwner("n1", "c1"); err != nil {
		t.Fatal(err)
	}
	if got := mustAllocate(t, a, "n1", "c2", netip.Addr{}); got != mpfx("10.0.0.2/30") {
		t.Errorf("Allocate() after release = %v, want 10.0.0.2/30", got)
	}
}

func TestAllocateSpecific(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/24", "", "10.0.0.1", map[string]string{"aux": "10.0.0.7"})
	mustAddPool(t, a, "n1", "fd00:1::/64", "", "", nil)
	if got := mustAllocate(t, a, "n1", "c1", maddr("10.0.0.50")); got != mpfx("10.0.0.50/24") {
		t.Errorf("Allocate(10.0.0.50) = %v", got)
	}
	if got := mustAllocate(t, a, "n1", "c1", maddr("fd00:1::50")); got != mpfx("fd00:1::50/64") {
		t.Errorf("Allocate(fd00:1::50) = %v", got)
	}
	if got := mustAllocate(t, a, "n1", "c3", maddr("::ffff:10.0.0.51")); got != mpfx("10.0.0.51/24") {
		t.Errorf("Allocate(::ffff:10.0.0.51) = %v, want the IPv4 address", got)
	}
	for _, addr := range []string{"10.0.0.50", "10.0.0.1", "10.0.0.0", "10.0.0.255", "10.0.0.7", "fd00:1::", "fd00:1::1", "fd00:1::50"} {
		_, _, err := a.Allocate("n1", "c2", maddr(addr))
		if !errors.Is(err, ErrIPAlreadyAllocated) || !errdefs.IsConflict(err) {
			t.Errorf("Allocate(%s) = %v, want ErrIPAlreadyAllocated", addr, err)
		} else if err.Error() != "Address already in use: conflict" {
			t.Errorf("Allocate(%s) = %q", addr, err)
		}
	}
	_, _, err := a.Allocate("n1", "c2", maddr("10.9.0.1"))
	if !errdefs.IsInvalidArgument(err) || err.Error() != "invalid address 10.9.0.1: It does not belong to any of this network's subnets: invalid argument" {
		t.Errorf("Allocate(outside) = %v", err)
	}
	if _, _, err := a.Allocate("nope", "c2", netip.Addr{}); !errdefs.IsNotFound(err) {
		t.Errorf("Allocate on unknown network = %v, want ErrNotFound", err)
	}
	if _, _, err := a.Allocate("n1", "", netip.Addr{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Allocate with no owner = %v, want ErrInvalidArgument", err)
	}
	// Automatic allocation steps over the addresses asked for by name.
	if got := mustAllocate(t, a, "n1", "c4", netip.IPv4Unspecified()); got != mpfx("10.0.0.2/24") {
		t.Errorf("Allocate(0.0.0.0) = %v, want 10.0.0.2/24", got)
	}
}

func TestAllocateFamilies(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "dual", "10.0.0.0/24", "", "", nil)
	mustAddPool(t, a, "dual", "fd00:1::/64", "", "", nil)
	// One call per pool with no address wanted: one address of each.
	if got := mustAllocate(t, a, "dual", "c1", netip.Addr{}); got != mpfx("10.0.0.2/24") {
		t.Errorf("first Allocate(zero) = %v, want 10.0.0.2/24", got)
	}
	if got := mustAllocate(t, a, "dual", "c1", netip.Addr{}); got != mpfx("fd00:1::2/64") {
		t.Errorf("second Allocate(zero) = %v, want fd00:1::2/64", got)
	}
	// An owner that asked for its IPv4 address by name gets IPv6 next.
	mustAllocate(t, a, "dual", "c2", maddr("10.0.0.9"))
	if got := mustAllocate(t, a, "dual", "c2", netip.Addr{}); got != mpfx("fd00:1::3/64") {
		t.Errorf("Allocate(zero) after --ip = %v, want fd00:1::3/64", got)
	}
	if got := mustAllocate(t, a, "dual", "c3", netip.IPv6Unspecified()); got != mpfx("fd00:1::4/64") {
		t.Errorf("Allocate(::) = %v, want fd00:1::4/64", got)
	}
	if got := mustAllocate(t, a, "dual", "c3", netip.IPv4Unspecified()); got != mpfx("10.0.0.3/24") {
		t.Errorf("Allocate(0.0.0.0) = %v, want 10.0.0.3/24", got)
	}
	mustAddPool(t, a, "v4only", "10.1.0.0/24", "", "", nil)
	if _, _, err := a.Allocate("v4only", "c1", netip.IPv6Unspecified()); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Allocate(::) on an IPv4-only network = %v, want ErrInvalidArgument", err)
	}
	if err := a.ReleaseOwner("dual", "c1"); err != nil {
		t.Fatal(err)
	}
	allocs, err := a.Allocations("dual")
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]string{maddr("10.0.0.9"): "c2", maddr("fd00:1::3"): "c2", maddr("fd00:1::4"): "c3", maddr("10.0.0.3"): "c3"}
	if !reflect.DeepEqual(allocs, want) {
		t.Errorf("Allocations() after ReleaseOwner(c1) = %v, want %v", allocs, want)
	}
}

func TestConcurrentAllocate(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/24", "", "", nil)
	const workers, each = 8, 30
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	got := make(chan netip.Addr, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				addr, _, err := a.Allocate("n1", fmt.Sprintf("w%d-%d", w, i), netip.Addr{})
				if err != nil {
					errs <- err
					return
				}
				got <- addr
			}
		})
	}
	wg.Wait()
	close(errs)
	close(got)
	for err := range errs {
		t.Fatalf("Allocate() = %v", err)
	}
	seen := map[netip.Addr]bool{}
	for addr := range got {
		if seen[addr] {
			t.Errorf("%v handed out twice", addr)
		}
		seen[addr] = true
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct addresses, want %d", len(seen), workers*each)
	}
	allocs, err := a.Allocations("n1")
	if err != nil || len(allocs) != workers*each {
		t.Errorf("Allocations() = %d entries, %v; want %d", len(allocs), err, workers*each)
	}
	// The lowest addresses were handed out: .2 to .241.
	for i := 2; i < 2+workers*each; i++ {
		if addr := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}); !seen[addr] {
			t.Errorf("%v not handed out", addr)
		}
	}
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "network.db")
	db := openDB(t, path)
	a, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	p := mustAddPool(t, a, "n1", "10.0.0.0/24", "10.0.0.0/25", "10.0.0.1", map[string]string{"r": "10.0.0.2"})
	p6 := mustAddPool(t, a, "n1", "fd00:1::/64", "", "", nil)
	mustAllocate(t, a, "n1", "c1", netip.Addr{})
	mustAllocate(t, a, "n1", "c1", netip.Addr{})
	mustAllocate(t, a, "n1", "c2", maddr("10.0.0.200"))
	before, err := a.Allocations("n1")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openDB(t, path)
	defer db.Close()
	a, err = New(db)
	if err != nil {
		t.Fatal(err)
	}
	after, err := a.Allocations("n1")
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Errorf("Allocations() after reopen = %v, %v; want %v", after, err, before)
	}
	pools, err := a.Pools()
	if err != nil || !reflect.DeepEqual(pools, map[string][]Pool{"n1": {p, p6}}) {
		t.Errorf("Pools() after reopen = %+v, %v; want n1: %+v, %+v", pools, err, p, p6)
	}
	if got := mustAllocate(t, a, "n1", "c3", netip.Addr{}); got != mpfx("10.0.0.4/24") {
		t.Errorf("Allocate() after reopen = %v, want 10.0.0.4/24", got)
	}
	if _, _, err := a.Allocate("n1", "c4", maddr("10.0.0.200")); !errors.Is(err, ErrIPAlreadyAllocated) {
		t.Errorf("Allocate(held address) after reopen = %v, want ErrIPAlreadyAllocated", err)
	}
	checkInvariants(t, a)
}

func TestAddPoolOverlap(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "a", "10.0.0.0/16", "", "", nil)
	for _, tt := range []struct{ net, subnet string }{
		{"b", "10.0.5.0/24"},
		{"b", "10.0.0.0/8"},
		{"b", "10.0.0.0/16"},
		{"a", "10.0.1.0/24"},
	} {
		p, err := ParsePool(tt.subnet, "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		err = a.AddPool(tt.net, p)
		if !errors.Is(err, ErrPoolOverlap) || !errdefs.IsConflict(err) {
			t.Errorf("AddPool(%s, %s) = %v, want ErrPoolOverlap", tt.net, tt.subnet, err)
		} else if want := "invalid pool request: Pool overlaps with other one on this address space: conflict"; err.Error() != want {
			t.Errorf("AddPool(%s, %s) = %q, want %q", tt.net, tt.subnet, err, want)
		}
	}
	// Nothing of the refused pools was recorded.
	if _, err := a.Allocations("b"); !errdefs.IsNotFound(err) {
		t.Errorf("Allocations(b) = %v, want ErrNotFound", err)
	}
	mustAddPool(t, a, "b", "10.1.0.0/16", "", "", nil)
	mustAddPool(t, a, "a", "fd00:1::/64", "", "", nil)
	pools, err := a.Pools()
	if err != nil || len(pools["a"]) != 2 || len(pools["b"]) != 1 {
		t.Errorf("Pools() = %v, %v", pools, err)
	}
}

func TestAddPoolByHand(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	// As the default bridge's --bip: subnet and gateway, nothing else.
	if err := a.AddPool("bridge", Pool{Subnet: mpfx("172.17.0.0/16"), Gateway: maddr("172.17.0.1")}); err != nil {
		t.Fatalf("AddPool(--bip) = %v", err)
	}
	// No gateway: the default is filled in.
	if err := a.AddPool("n1", Pool{Subnet: mpfx("10.5.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	pools, err := a.Pools()
	if err != nil || pools["n1"][0].Gateway != maddr("10.5.0.1") {
		t.Errorf("Pools()[n1] = %+v, %v; want gateway 10.5.0.1", pools["n1"], err)
	}
	for _, p := range []Pool{
		{},
		{Subnet: mpfx("10.6.1.0/16")},
		{Subnet: mpfx("10.6.0.0/16"), Gateway: maddr("10.7.0.1")},
		{Subnet: mpfx("10.6.0.0/16"), Gateway: maddr("10.6.0.0")},
		{Subnet: mpfx("10.6.0.0/16"), IPRange: mpfx("10.7.0.0/24")},
		{Subnet: mpfx("10.6.0.0/16"), Aux: map[string]netip.Addr{"x": maddr("10.8.0.1")}},
	} {
		if err := a.AddPool("n2", p); !errdefs.IsInvalidArgument(err) {
			t.Errorf("AddPool(%+v) = %v, want ErrInvalidArgument", p, err)
		}
	}
	if err := a.AddPool("", Pool{Subnet: mpfx("10.9.0.0/24")}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("AddPool(no network) = %v, want ErrInvalidArgument", err)
	}
}

func TestDefaultPool(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	p, err := a.DefaultPool("bridge", false, DefaultV4Pools(), nil)
	if err != nil || p.Subnet != mpfx("172.17.0.0/16") || p.Gateway != maddr("172.17.0.1") {
		t.Fatalf("DefaultPool(bridge) = %+v, %v; want 172.17.0.0/16 via 172.17.0.1", p, err)
	}
	mustAddPool(t, a, "user", "172.20.0.0/14", "", "", nil)
	var asked []netip.Prefix
	avoid := func(c netip.Prefix) bool {
		asked = append(asked, c)
		return c == mpfx("172.18.0.0/16") // a host route
	}
	p, err = a.DefaultPool("n1", false, DefaultV4Pools(), avoid)
	if err != nil || p.Subnet != mpfx("172.19.0.0/16") || p.Gateway != maddr("172.19.0.1") {
		t.Fatalf("DefaultPool(n1) = %+v, %v; want 172.19.0.0/16", p, err)
	}
	if want := []netip.Prefix{mpfx("172.18.0.0/16"), mpfx("172.19.0.0/16")}; !reflect.DeepEqual(asked, want) {
		t.Errorf("avoid asked about %v, want %v (taken pools are skipped first)", asked, want)
	}
	// 172.20-23 lie in the user's /14: next is 172.24.
	p, err = a.DefaultPool("n2", false, DefaultV4Pools(), avoid)
	if err != nil || p.Subnet != mpfx("172.24.0.0/16") {
		t.Errorf("DefaultPool(n2) = %+v, %v; want 172.24.0.0/16", p, err)
	}
	if got := mustAllocate(t, a, "n2", "c1", netip.Addr{}); got != mpfx("172.24.0.2/16") {
		t.Errorf("Allocate() in default pool = %v", got)
	}
	// IPv6 skips IPv4 candidates and the other way round.
	v6 := DefaultV6Pools("engine")
	p, err = a.DefaultPool("n1", true, append(DefaultV4Pools(), v6[:3]...), nil)
	if err != nil || p.Subnet != v6[0] || p.Gateway != v6[0].Addr().Next() {
		t.Errorf("DefaultPool(v6) = %+v, %v; want %v", p, err, v6[0])
	}
	p, err = a.DefaultPool("n3", true, v6[:3], nil)
	if err != nil || p.Subnet != v6[1] {
		t.Errorf("second DefaultPool(v6) = %+v, %v; want %v", p, err, v6[1])
	}
	// Everything taken or avoided.
	_, err = a.DefaultPool("n4", false, DefaultV4Pools()[:6], avoid)
	if !errors.Is(err, ErrNoMoreSubnets) || !errdefs.IsInvalidArgument(err) {
		t.Errorf("DefaultPool(exhausted) = %v, want ErrNoMoreSubnets", err)
	}
	if _, err := a.Allocations("n4"); !errdefs.IsNotFound(err) {
		t.Errorf("Allocations(n4) = %v, want ErrNotFound", err)
	}
	_, err = a.DefaultPool("n4", false, v6, nil)
	if !errors.Is(err, ErrNoMoreSubnets) {
		t.Errorf("DefaultPool(v4 from v6 candidates) = %v, want ErrNoMoreSubnets", err)
	}
}

func TestRemovePool(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "10.0.0.0/24", "", "", nil)
	mustAddPool(t, a, "n1", "fd00:1::/64", "", "", nil)
	mustAllocate(t, a, "n1", "c1", maddr("10.0.0.77"))
	if err := a.RemovePool("n1"); err != nil {
		t.Fatalf("RemovePool(n1) = %v", err)
	}
	if _, err := a.Allocations("n1"); !errdefs.IsNotFound(err) {
		t.Errorf("Allocations(n1) after RemovePool = %v, want ErrNotFound", err)
	}
	if err := a.RemovePool("n1"); !errdefs.IsNotFound(err) {
		t.Errorf("second RemovePool(n1) = %v, want ErrNotFound", err)
	}
	if err := a.ReleaseOwner("n1", "c1"); !errdefs.IsNotFound(err) {
		t.Errorf("ReleaseOwner on removed network = %v, want ErrNotFound", err)
	}
	// Its subnets are free again, with no allocation left behind.
	mustAddPool(t, a, "n2", "10.0.0.0/16", "", "", nil)
	mustAddPool(t, a, "n2", "fd00:1::/48", "", "", nil)
	if got := mustAllocate(t, a, "n2", "c1", maddr("10.0.0.77")); got != mpfx("10.0.0.77/16") {
		t.Errorf("Allocate(10.0.0.77) = %v", got)
	}
	pools, err := a.Pools()
	if err != nil || len(pools) != 1 || len(pools["n2"]) != 2 {
		t.Errorf("Pools() = %v, %v; want only n2's two", pools, err)
	}
}

func TestIPv6(t *testing.T) {
	t.Parallel()
	a := newAllocator(t)
	mustAddPool(t, a, "n1", "fd00:1::/64", "", "", nil)
	if got, want := allocSeq(t, a, "n1", 3), []string{"fd00:1::2/64", "fd00:1::3/64", "fd00:1::4/64"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allocations = %v, want %v", got, want)
	}
	// The last address of a /64 is an ordinary one in IPv6.
	last := maddr("fd00:1::ffff:ffff:ffff:ffff")
	if got := mustAllocate(t, a, "n1", "last", last); got != netip.PrefixFrom(last, 64) {
		t.Errorf("Allocate(%v) = %v", last, got)
	}
	if err := a.Release("n1", maddr("fd00:1::3")); err != nil {
		t.Fatal(err)
	}
	if got := mustAllocate(t, a, "n1", "x", netip.Addr{}); got != mpfx("fd00:1::3/64") {
		t.Errorf("Allocate() after release = %v, want fd00:1::3/64", got)
	}

	// A range at the very end of a /64 (where dockerd's bitmap falls one
	// short): gateway, then one address, then full.
	mustAddPool(t, a, "n2", "fda9:8d04:86e::/64", "fda9:8d04:86e:0:ffff:ffff:ffff:fffe/127", "", nil)
	if got := mustAllocate(t, a, "n2", "c1", netip.Addr{}); got != mpfx("fda9:8d04:86e:0:ffff:ffff:ffff:ffff/64") {
		t.Errorf("Allocate() at end of /64 = %v", got)
	}
	if _, _, err := a.Allocate("n2", "c2", netip.Addr{}); !errors.Is(err, ErrNoAvailableIPs) {
		t.Errorf("Allocate() on full /127 = %v, want ErrNoAvailableIPs", err)
	}

	// The top of the address space does not wrap to ::.
	mustAddPool(t, a, "n3", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124", "", "", nil)
	got := allocSeq(t, a, "n3", 14)
	if got[13] != "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/124" {
		t.Errorf("last allocation = %v", got[13])
	}
	if _, _, err := a.Allocate("n3", "more", netip.Addr{}); !errors.Is(err, ErrNoAvailableIPs) {
		t.Errorf("Allocate() on full top /124 = %v, want ErrNoAvailableIPs", err)
	}

	// A big subnet costs nothing up front.
	mustAddPool(t, a, "n4", "fd00:2::/32", "", "", nil)
	if got := mustAllocate(t, a, "n4", "c1", netip.Addr{}); got != mpfx("fd00:2::2/32") {
		t.Errorf("Allocate() in /32 = %v", got)
	}
}

func TestNewNil(t *testing.T) {
	t.Parallel()
	if _, err := New(nil); !errdefs.IsInvalidArgument(err) {
		t.Errorf("New(nil) = %v, want ErrInvalidArgument", err)
	}
}

func TestCorruptRecord(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "network.db")
	db := openDB(t, path)
	defer db.Close()
	a, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	mustAddPool(t, a, "n1", "10.0.0.0/24", "", "", nil)
	if err := db.Update(func(tx *bolt.Tx) error {
		nb := tx.Bucket(bucketIPAM).Bucket([]byte("n1"))
		return nb.ForEachBucket(func(k []byte) error {
			return nb.Bucket(k).Put(keyPool, []byte(`{"subnet":"10.0.0.3/24","gateway":"10.0.0.1"}`))
		})
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Allocate("n1", "c1", netip.Addr{}); !errors.Is(err, errCorrupt) {
		t.Errorf("Allocate() over a corrupt pool = %v, want errCorrupt", err)
	}
	if _, err := a.Pools(); !errors.Is(err, errCorrupt) {
		t.Errorf("Pools() over a corrupt pool = %v, want errCorrupt", err)
	}
}
