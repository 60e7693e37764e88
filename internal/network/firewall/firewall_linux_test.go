package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

const testTable = "shoal-test"

// testLogger sends logs to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// noNft empties PATH for the test, so that any attempt to run the nft
// binary would fail: everything must go through netlink.
func noNft(t *testing.T) {
	t.Setenv("PATH", "")
	if p, err := exec.LookPath("nft"); err == nil {
		t.Fatalf("nft still found at %s with an empty PATH", p)
	}
}

// openNS opens the namespace file at path for the test's lifetime.
func openNS(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// newTestFirewall returns a Firewall on a fresh network namespace, the
// namespace's fd, and a check that the foreign ruleset planted there is
// unchanged.
func newTestFirewall(t *testing.T) (*Firewall, int, func()) {
	t.Helper()
	testutil.RequiresRoot(t)
	noNft(t)
	fd := openNS(t, testutil.NewNetNS(t))
	plantForeign(t, fd)
	before := foreignRuleset(t, fd)
	fw, err := New(Config{Table: testTable, NetNS: fd, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		if after := foreignRuleset(t, fd); after != before {
			t.Errorf("foreign ruleset changed:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}
	t.Cleanup(check)
	return fw, fd, check
}

// plantForeign makes rules Shoal must never touch: an inet table
// "hostfw" with a chain and a rule, and an ip table named like Shoal's.
func plantForeign(t *testing.T, fd int) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	accept := nftables.ChainPolicyAccept
	for _, tbl := range []*nftables.Table{
		{Name: "hostfw", Family: nftables.TableFamilyINet},
		{Name: testTable, Family: nftables.TableFamilyIPv4},
	} {
		c.AddTable(tbl)
		in := c.AddChain(&nftables.Chain{Name: "input", Table: tbl, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: tbl, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
		c.AddRule(&nftables.Rule{Table: tbl, Chain: in, UserData: encodeUserData("host ssh"), Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 22}},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
		// Looks like one of Shoal's rules, but is in a foreign table.
		c.AddRule(&nftables.Rule{Table: tbl, Chain: fwd, UserData: encodeUserData(baseTag("established")),
			Exprs: []expr.Any{&expr.Counter{}}})
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("plant foreign tables: %v", err)
	}
}

// foreignRuleset prints every table, chain and rule in the namespace
// except Shoal's inet table.
func foreignRuleset(t *testing.T, fd int) string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	chains, err := c.ListChains()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, tbl := range tables {
		if tbl.Name == testTable && tbl.Family == nftables.TableFamilyINet {
			continue
		}
		fmt.Fprintf(&b, "table %d %s\n", tbl.Family, tbl.Name)
		for _, ch := range chains {
			if ch.Table.Name != tbl.Name || ch.Table.Family != tbl.Family {
				continue
			}
			fmt.Fprintf(&b, "  chain %s type=%s hook=%v prio=%v policy=%v\n", ch.Name, ch.Type, deref(ch.Hooknum), deref(ch.Priority), deref(ch.Policy))
			rules, err := c.GetRules(tbl, ch)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rules {
				fmt.Fprintf(&b, "    rule %d %q", r.Handle, r.UserData)
				for _, e := range r.Exprs {
					fmt.Fprintf(&b, " %T%+v", e, e)
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String()
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ourRules lists the rules of Shoal's table as "chain handle tag".
func ourRules(t *testing.T, fd int) []string {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: testTable, Family: nftables.TableFamilyINet}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Table.Name != testTable {
			continue
		}
		rules, err := c.GetRules(tbl, ch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rules {
			s, _ := decodeUserData(r.UserData)
			out = append(out, fmt.Sprintf("%s %d %s", ch.Name, r.Handle, s))
		}
	}
	slices.Sort(out)
	return out
}

func tableExists(t *testing.T, fd int) bool {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(tables, func(tb *nftables.Table) bool { return tb.Name == testTable })
}

func mustNormalize(t *testing.T, s State) State {
	t.Helper()
	n, err := normalize(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func assertCurrent(t *testing.T, fw *Firewall, want State) {
	t.Helper()
	got, err := fw.Current(t.Context())
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	want = mustNormalize(t, want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Current() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestApplyRoundTrip(t *testing.T) {
	fw, fd, check := newTestFirewall(t)
	ctx := t.Context()

	if s, err := fw.Current(ctx); err != nil || len(s.Networks)+len(s.Ports) != 0 {
		t.Fatalf("Current() before Apply = %+v, %v; want empty", s, err)
	}
	s := sampleState()
	if err := fw.Apply(ctx, s); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	check()
	assertCurrent(t, fw, s)

	// Every rule is tagged; applying the same state again changes
	// nothing (same handles).
	before := ourRules(t, fd)
	for _, r := range before {
		if !strings.Contains(r, tagPrefix) {
			t.Errorf("untagged rule %s", r)
		}
	}
	if err := fw.Apply(ctx, s); err != nil {
		t.Fatalf("Apply again: %v", err)
	}
	if after := ourRules(t, fd); !slices.Equal(before, after) {
		t.Errorf("second Apply changed rules:\n%s\n---\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	check()
}

func TestApplyRemovesTheRest(t *testing.T) {
	fw, fd, check := newTestFirewall(t)
	ctx := t.Context()
	if err := fw.Apply(ctx, sampleState()); err != nil {
		t.Fatal(err)
	}
	// A rule of our table that no state calls for (hand-made, untagged)
	// is removed too.
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tbl := &nftables.Table{Name: testTable, Family: nftables.TableFamilyINet}
	c.AddRule(&nftables.Rule{Table: tbl, Chain: &nftables.Chain{Name: chainDNAT, Table: tbl}, Exprs: []expr.Any{&expr.Counter{}}})
	c.AddChain(&nftables.Chain{Name: "stale", Table: tbl})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}

	less := sampleState()
	less.Networks = less.Networks[:1]
	less.Networks[0].Subnets = less.Networks[0].Subnets[1:]
	less.Ports = less.Ports[1:2]
	if err := fw.Apply(ctx, less); err != nil {
		t.Fatalf("Apply less: %v", err)
	}
	assertCurrent(t, fw, less)
	rules := ourRules(t, fd)
	want, err := plan(mustNormalize(t, less))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, rs := range want {
		n += len(rs)
	}
	if len(rules) != n {
		t.Errorf("table has %d rules, want %d:\n%s", len(rules), n, strings.Join(rules, "\n"))
	}
	for _, r := range rules {
		if strings.HasPrefix(r, "stale ") || !strings.Contains(r, tagPrefix) {
			t.Errorf("left over: %s", r)
		}
	}

	if err := fw.Apply(ctx, State{}); err != nil {
		t.Fatal(err)
	}
	assertCurrent(t, fw, State{})
	check()
}

func TestIncremental(t *testing.T) {
	fw, fd, check := newTestFirewall(t)
	ctx := t.Context()
	s := sampleState()
	if err := fw.Apply(ctx, State{Networks: s.Networks}); err != nil {
		t.Fatal(err)
	}
	if err := fw.AddPorts(ctx, s.Ports[:2]); err != nil {
		t.Fatalf("AddPorts: %v", err)
	}
	if err := fw.AddPorts(ctx, s.Ports[2:]); err != nil {
		t.Fatalf("AddPorts: %v", err)
	}
	assertCurrent(t, fw, s)
	// Again: nothing changes.
	before := ourRules(t, fd)
	if err := fw.AddPorts(ctx, s.Ports); err != nil {
		t.Fatalf("AddPorts again: %v", err)
	}
	if after := ourRules(t, fd); !slices.Equal(before, after) {
		t.Errorf("AddPorts of present ports changed rules")
	}

	// Another owner on a taken host port: conflict, nothing added.
	taken := s.Ports[0]
	taken.Owner = "other"
	if err := fw.AddPorts(ctx, []Port{taken}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("AddPorts(taken) = %v, want ErrConflict", err)
	}
	if err := fw.AddPorts(ctx, []Port{{Owner: "x", Proto: "tcp"}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("AddPorts(invalid) = %v, want ErrInvalidArgument", err)
	}
	assertCurrent(t, fw, s)

	// RemovePorts removes exactly that owner's rules: the others keep
	// their handles.
	owner := s.Ports[0].Owner
	keep := slices.DeleteFunc(slices.Clone(before), func(r string) bool { return strings.Contains(r, "owner="+owner) })
	if err := fw.RemovePorts(ctx, owner); err != nil {
		t.Fatalf("RemovePorts: %v", err)
	}
	if got := ourRules(t, fd); !slices.Equal(got, keep) {
		t.Errorf("after RemovePorts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(keep, "\n"))
	}
	s.Ports = s.Ports[2:]
	assertCurrent(t, fw, s)
	if err := fw.RemovePorts(ctx, "nobody"); err != nil {
		t.Errorf("RemovePorts(nobody): %v", err)
	}

	// SetNetwork replaces a network's rules; RemoveNetwork drops them.
	changed := s.Networks[0]
	changed.ICC = false
	if err := fw.SetNetwork(ctx, changed); err != nil {
		t.Fatalf("SetNetwork: %v", err)
	}
	s.Networks[0] = changed
	assertCurrent(t, fw, s)
	for _, r := range ourRules(t, fd) {
		if strings.Contains(r, "br="+changed.Bridge+" ") && !strings.Contains(r, "icc=0") {
			t.Errorf("old rule of %s left: %s", changed.Bridge, r)
		}
	}
	added := Network{Bridge: "br-new", Subnets: []netip.Prefix{pfx("10.40.0.0/24")}, Masquerade: true, ICC: true}
	if err := fw.SetNetwork(ctx, added); err != nil {
		t.Fatal(err)
	}
	s.Networks = append(s.Networks, added)
	assertCurrent(t, fw, s)
	if err := fw.RemoveNetwork(ctx, "shv-int"); err != nil {
		t.Fatalf("RemoveNetwork: %v", err)
	}
	s.Networks = slices.DeleteFunc(s.Networks, func(n Network) bool { return n.Bridge == "shv-int" })
	assertCurrent(t, fw, s)
	for _, r := range ourRules(t, fd) {
		if strings.Contains(r, "br=shv-int ") {
			t.Errorf("rule of removed network left: %s", r)
		}
	}
	check()
}

func TestFlush(t *testing.T) {
	fw, fd, check := newTestFirewall(t)
	ctx := t.Context()
	if err := fw.Flush(ctx); err != nil {
		t.Fatalf("Flush of missing table: %v", err)
	}
	if err := fw.Apply(ctx, sampleState()); err != nil {
		t.Fatal(err)
	}
	if !tableExists(t, fd) {
		t.Fatal("no table after Apply")
	}
	if err := fw.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if tableExists(t, fd) {
		t.Error("table still there after Flush")
	}
	assertCurrent(t, fw, State{})
	check()
	// Incremental calls on a missing table create it.
	if err := fw.AddPorts(ctx, sampleState().Ports[:1]); err != nil {
		t.Fatal(err)
	}
	assertCurrent(t, fw, State{Ports: sampleState().Ports[:1]})
}

func TestInvalidLeavesTable(t *testing.T) {
	fw, fd, check := newTestFirewall(t)
	ctx := t.Context()
	if err := fw.Apply(ctx, sampleState()); err != nil {
		t.Fatal(err)
	}
	before := ourRules(t, fd)
	bad := sampleState()
	bad.Ports = append(bad.Ports, Port{Owner: strings.Repeat("o", 200), Proto: "tcp", HostPort: 1, ContainerIP: addr("10.0.0.1"), ContainerPort: 1, Bridge: "b"})
	if err := fw.Apply(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Apply(too long owner) = %v, want ErrInvalidArgument", err)
	}
	if err := fw.AddPorts(ctx, bad.Ports[len(bad.Ports)-1:]); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("AddPorts(too long owner) = %v, want ErrInvalidArgument", err)
	}
	if after := ourRules(t, fd); !slices.Equal(before, after) {
		t.Error("failed Apply changed the table")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if err := fw.Apply(ctx2, State{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply(cancelled) = %v", err)
	}
	if after := ourRules(t, fd); !slices.Equal(before, after) {
		t.Error("cancelled Apply changed the table")
	}
	check()
}

func TestManyPorts(t *testing.T) {
	fw, _, check := newTestFirewall(t)
	ctx := t.Context()
	s := State{Networks: []Network{{Bridge: "shoal0", Subnets: []netip.Prefix{pfx("172.17.0.0/16")}, Masquerade: true, ICC: true}}}
	for i := range 1000 {
		s.Ports = append(s.Ports, Port{Owner: "c" + strings.Repeat("0", 63), Proto: []string{"tcp", "udp"}[i%2],
			HostPort: uint16(20000 + i), ContainerIP: addr("172.17.0.2"), ContainerPort: uint16(20000 + i), Bridge: "shoal0"})
	}
	start := time.Now()
	if err := fw.Apply(ctx, s); err != nil {
		t.Fatalf("Apply 1000 ports: %v", err)
	}
	took := time.Since(start)
	t.Logf("Apply of 1000 ports took %v", took)
	if took > 3*time.Second {
		t.Errorf("Apply of 1000 ports took %v", took)
	}
	assertCurrent(t, fw, s)
	start = time.Now()
	if err := fw.RemovePorts(ctx, s.Ports[0].Owner); err != nil {
		t.Fatal(err)
	}
	t.Logf("RemovePorts of 1000 ports took %v", time.Since(start))
	s.Ports = nil
	assertCurrent(t, fw, s)
	check()
}

func TestApplyRemakesForeignShapedChains(t *testing.T) {
	fw, fd, check := newTestFirewall(t)
	ctx := t.Context()
	// Our table as an older or broken Shoal might have left it: "forward"
	// a regular chain, "dnat" a base chain, a skeleton rule out of place.
	c, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	tbl := c.AddTable(&nftables.Table{Name: testTable, Family: nftables.TableFamilyINet})
	fwd := c.AddChain(&nftables.Chain{Name: chainForward, Table: tbl})
	accept := nftables.ChainPolicyAccept
	dnat := c.AddChain(&nftables.Chain{Name: chainDNAT, Table: tbl, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	c.AddRule(&nftables.Rule{Table: tbl, Chain: fwd, UserData: encodeUserData(baseTag("established")), Exprs: []expr.Any{&expr.Counter{}}})
	c.AddRule(&nftables.Rule{Table: tbl, Chain: dnat, Exprs: []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainForward}}})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	s := sampleState()
	if err := fw.Apply(ctx, s); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	assertCurrent(t, fw, s)
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if ch.Table.Name != testTable {
			continue
		}
		spec, ok := chainSpecOf(ch.Name)
		if !ok || !chainMatches(ch, spec) {
			t.Errorf("chain %s: hook %v type %q after Apply, want %+v", ch.Name, deref(ch.Hooknum), ch.Type, spec)
		}
	}
	before := ourRules(t, fd)
	if err := fw.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if after := ourRules(t, fd); !slices.Equal(before, after) {
		t.Error("Apply after the remake changed rules")
	}
	check()
}
