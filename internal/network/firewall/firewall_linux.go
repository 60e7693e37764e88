package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Config configures a Firewall.
type Config struct {
	// Table is the name of Shoal's nftables table (family inet);
	// DefaultTable when empty.
	Table string
	// NetNS is an open file descriptor of the network namespace whose
	// ruleset to manage; 0 is the caller's own. The caller keeps it open
	// for the Firewall's lifetime.
	NetNS int
	// Logger receives debug events; nil discards them.
	Logger *slog.Logger
}

// Firewall keeps Shoal's nftables table in the state it is given. Its
// methods are safe for concurrent use; each holds a lock for its whole
// read-modify-write so that two updates never race.
type Firewall struct {
	mu    sync.Mutex
	table *nftables.Table
	netns int
	log   *slog.Logger
}

// sockBuffer is the size of the netlink socket's buffers. A batch is sent
// in one message that must fit the send buffer, and the kernel echoes
// every rule it adds into the receive buffer: the defaults (~200 KiB)
// hold about 500 rules. 32 MiB hold some 80,000.
const sockBuffer = 32 << 20

// New returns a Firewall for cfg. It does not touch the kernel.
func New(cfg Config) (*Firewall, error) {
	name := cfg.Table
	if name == "" {
		name = DefaultTable
	}
	if len(name) > 255 {
		return nil, fmt.Errorf("firewall table name %q: too long: %w", name, errdefs.ErrInvalidArgument)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Firewall{
		table: &nftables.Table{Name: name, Family: nftables.TableFamilyINet},
		netns: cfg.NetNS,
		log:   log,
	}, nil
}

// Table returns the name of the table the Firewall manages.
func (f *Firewall) Table() string { return f.table.Name }

// Apply makes Shoal's table hold exactly the rules of s: it creates the
// table and its chains when missing, adds the rules that are missing and
// deletes every rule of the table that s does not call for, in one atomic
// batch. A failed Apply leaves the table as it was.
func (f *Firewall) Apply(ctx context.Context, s State) error {
	s, err := normalize(s)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(ctx, false, func(State) State { return s })
}

// AddPorts adds the rules of ports, keeping every other rule. A port
// that is already there is left alone; one that takes a host port
// another port has fails the call with errdefs.ErrConflict, and nothing
// is added.
func (f *Firewall) AddPorts(ctx context.Context, ports []Port) error {
	add := make([]Port, 0, len(ports))
	for _, p := range ports {
		n, err := normalizePort(p)
		if err != nil {
			return err
		}
		add = append(add, n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(ctx, true, func(cur State) State {
		cur.Ports = append(cur.Ports, add...)
		return cur
	})
}

// RemovePorts deletes the rules of every port of owner.
func (f *Firewall) RemovePorts(ctx context.Context, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(ctx, true, func(cur State) State {
		cur.Ports = slices.DeleteFunc(cur.Ports, func(p Port) bool { return p.Owner == owner })
		return cur
	})
}

// SetNetwork adds the rules of n, replacing those of any network on the
// same bridge.
func (f *Firewall) SetNetwork(ctx context.Context, n Network) error {
	n, err := normalizeNetwork(n)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(ctx, true, func(cur State) State {
		cur.Networks = slices.DeleteFunc(cur.Networks, func(o Network) bool { return o.Bridge == n.Bridge })
		cur.Networks = append(cur.Networks, n)
		return cur
	})
}

// RemoveNetwork deletes the rules of the network on bridge. The rules of
// ports to containers on it stay until their owners' RemovePorts.
func (f *Firewall) RemoveNetwork(ctx context.Context, bridge string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(ctx, true, func(cur State) State {
		cur.Networks = slices.DeleteFunc(cur.Networks, func(o Network) bool { return o.Bridge == bridge })
		return cur
	})
}

// Flush deletes Shoal's table, and so every rule it holds. Nothing else
// in the ruleset changes. Flushing a missing table is not an error.
func (f *Firewall) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	exists, err := f.tableExists(c)
	if err != nil {
		return err
	}
	if !exists {
		return nil
	}
	c.DelTable(f.table)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete nftables table inet %s: %w", f.table.Name, err)
	}
	f.log.DebugContext(ctx, "firewall table deleted", "table", f.table.Name)
	return nil
}

// Current reads back the state the table holds, from the tags of its
// rules, in normalized form: networks sorted by bridge, subnets masked
// and sorted, ports sorted by owner, protocol and host address. A
// missing table is the empty State. Rules without a Shoal tag are not
// reported (and Apply deletes them).
func (f *Firewall) Current(ctx context.Context) (State, error) {
	if err := ctx.Err(); err != nil {
		return State{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn()
	if err != nil {
		return State{}, err
	}
	defer c.CloseLasting()
	snap, err := f.read(c)
	if err != nil {
		return State{}, err
	}
	return f.stateOf(ctx, snap)
}

func (f *Firewall) conn() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(f.netns), nftables.AsLasting(), nftables.WithSockOptions(growBuffers))
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink socket: %w", err)
	}
	return c, nil
}

// growBuffers sets the socket's buffers to sockBuffer, past the sysctl
// limits when the process may (CAP_NET_ADMIN), within them otherwise.
func growBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("netlink socket buffers: %w", err)
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], sockBuffer) == nil {
				continue
			}
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], sockBuffer); e != nil {
				serr = e
			}
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("netlink socket buffers: %w", err)
	}
	return nil
}

// snapshot is what the kernel holds in Shoal's table.
type snapshot struct {
	exists bool
	chains map[string]*nftables.Chain
	rules  map[string][]*nftables.Rule
}

func (f *Firewall) tableExists(c *nftables.Conn) (bool, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	return slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == f.table.Name }), nil
}

// read lists Shoal's table: its chains and their rules. Nothing outside
// the table is read but the names of tables and chains.
func (f *Firewall) read(c *nftables.Conn) (snapshot, error) {
	snap := snapshot{chains: map[string]*nftables.Chain{}, rules: map[string][]*nftables.Rule{}}
	var err error
	if snap.exists, err = f.tableExists(c); err != nil || !snap.exists {
		return snap, err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return snap, fmt.Errorf("list chains of nftables table inet %s: %w", f.table.Name, err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != f.table.Name {
			continue
		}
		ch.Table = f.table
		snap.chains[ch.Name] = ch
		rules, err := c.GetRules(f.table, ch)
		if err != nil {
			return snap, fmt.Errorf("list rules of chain inet %s %s: %w", f.table.Name, ch.Name, err)
		}
		snap.rules[ch.Name] = rules
	}
	return snap, nil
}

// stateOf rebuilds the State from the tags of the rules in snap.
func (f *Firewall) stateOf(ctx context.Context, snap snapshot) (State, error) {
	var s State
	seen := map[string]bool{}
	for chain, rules := range snap.rules {
		for _, r := range rules {
			t, err := ruleTag(r)
			if err != nil {
				f.log.DebugContext(ctx, "untagged firewall rule", "chain", chain, "handle", r.Handle)
				continue
			}
			switch t.kind {
			case kindNet:
				if !seen[t.net.Bridge] {
					seen[t.net.Bridge] = true
					s.Networks = append(s.Networks, t.net)
				}
			case kindPort:
				s.Ports = append(s.Ports, t.port)
			}
		}
	}
	s, err := normalize(s)
	if err != nil {
		return State{}, fmt.Errorf("read nftables table inet %s: %w", f.table.Name, err)
	}
	return s, nil
}

func ruleTag(r *nftables.Rule) (tag, error) {
	s, ok := decodeUserData(r.UserData)
	if !ok {
		return tag{}, errBadTag
	}
	return parseTag(s)
}

func ruleTagString(r *nftables.Rule) string {
	s, _ := decodeUserData(r.UserData)
	return s
}

// update reads the table, computes the wanted state (with change applied
// to the current one when incremental), and makes the table match it in
// one batch.
func (f *Firewall) update(ctx context.Context, incremental bool, change func(State) State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := f.conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	snap, err := f.read(c)
	if err != nil {
		return err
	}
	var cur State
	if incremental {
		if cur, err = f.stateOf(ctx, snap); err != nil {
			return err
		}
	}
	want, err := normalize(change(cur))
	if err != nil {
		return err
	}
	rules, err := plan(want)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	added, deleted, err := f.sync(c, snap, rules)
	if err != nil {
		return err
	}
	if added+deleted == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		// ENOBUFS: the replies overflowed the socket, so whether the
		// (atomic) batch went through is unknown. Look.
		if !errors.Is(err, unix.ENOBUFS) || !f.matches(rules) {
			return fmt.Errorf("update nftables table inet %s (%d rules to add, %d to delete): %w",
				f.table.Name, added, deleted, err)
		}
	}
	f.log.DebugContext(ctx, "firewall rules updated", "table", f.table.Name, "added", added, "deleted", deleted)
	return nil
}

// matches reports whether the table holds exactly rules.
func (f *Firewall) matches(rules map[string][]rule) bool {
	c, err := f.conn()
	if err != nil {
		return false
	}
	defer c.CloseLasting()
	snap, err := f.read(c)
	if err != nil {
		return false
	}
	// sync only queues messages; they are dropped with c, never sent.
	added, deleted, err := f.sync(c, snap, rules)
	return err == nil && added+deleted == 0
}

// sync queues on c the messages that turn snap into rules, and returns
// how many rules it adds and deletes (chain changes count as a deletion).
func (f *Firewall) sync(c *nftables.Conn, snap snapshot, rules map[string][]rule) (added, deleted int, err error) {
	have := snap.rules
	if !snap.exists {
		c.AddTable(f.table)
		added++
	}
	// A chain of the wrong kind (made by another version) is remade:
	// its rules and every jump to it go first, so the whole table's rules
	// are dropped and added again.
	var remake []*nftables.Chain
	for _, spec := range chainSpecs {
		if ch, ok := snap.chains[spec.name]; ok && !chainMatches(ch, spec) {
			remake = append(remake, ch)
		}
	}
	if len(remake) > 0 {
		c.FlushTable(f.table)
		for _, ch := range remake {
			c.DelChain(ch)
			delete(snap.chains, ch.Name)
		}
		have = nil
		deleted += len(remake)
	}
	for _, spec := range chainSpecs {
		if _, ok := snap.chains[spec.name]; !ok {
			c.AddChain(newChain(f.table, spec))
			added++
		}
	}
	for _, spec := range chainSpecs {
		ch := &nftables.Chain{Name: spec.name, Table: f.table}
		want, cur := rules[spec.name], have[spec.name]
		if spec.fixed {
			if slices.EqualFunc(cur, want, func(h *nftables.Rule, w rule) bool { return ruleTagString(h) == w.tag }) {
				continue
			}
			if len(cur) > 0 {
				c.FlushChain(ch)
				deleted += len(cur)
			}
			for _, r := range want {
				c.AddRule(newRule(f.table, ch, r))
			}
			added += len(want)
			continue
		}
		wanted := make(map[string]bool, len(want))
		for _, r := range want {
			wanted[r.tag] = true
		}
		kept := make(map[string]bool, len(cur))
		for _, h := range cur {
			t := ruleTagString(h)
			if wanted[t] && !kept[t] {
				kept[t] = true
				continue
			}
			if err := c.DelRule(h); err != nil {
				return 0, 0, fmt.Errorf("delete rule %d of chain %s: %w", h.Handle, spec.name, err)
			}
			deleted++
		}
		for _, r := range want {
			if !kept[r.tag] {
				c.AddRule(newRule(f.table, ch, r))
				added++
			}
		}
	}
	// Chains of the table that Shoal does not use (any more).
	var stale []*nftables.Chain
	for name, ch := range snap.chains {
		if _, ok := chainSpecOf(name); !ok {
			stale = append(stale, ch)
		}
	}
	for _, ch := range stale {
		if len(have[ch.Name]) > 0 {
			c.FlushChain(ch)
		}
	}
	for _, ch := range stale {
		c.DelChain(ch)
		deleted++
	}
	return added, deleted, nil
}

func chainMatches(ch *nftables.Chain, spec chainSpec) bool {
	if spec.hook == nil {
		return ch.Hooknum == nil
	}
	return ch.Hooknum != nil && *ch.Hooknum == *spec.hook &&
		ch.Priority != nil && *ch.Priority == *spec.prio &&
		ch.Type == spec.typ &&
		(ch.Policy == nil || *ch.Policy == nftables.ChainPolicyAccept)
}

func newChain(t *nftables.Table, spec chainSpec) *nftables.Chain {
	ch := &nftables.Chain{Name: spec.name, Table: t}
	if spec.hook != nil {
		accept := nftables.ChainPolicyAccept
		ch.Hooknum, ch.Priority, ch.Type, ch.Policy = spec.hook, spec.prio, spec.typ, &accept
	}
	return ch
}

func newRule(t *nftables.Table, ch *nftables.Chain, r rule) *nftables.Rule {
	return &nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs, UserData: encodeUserData(r.tag)}
}
