package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/dns"
	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/network/firewall"
	"github.com/shoal-dev/shoal/internal/network/ipam"
)

// Prefixes of the kernel objects Shoal makes, so reconciliation only
// ever deletes its own: bridges of user-defined networks and the host
// side of containers' veth pairs.
const (
	bridgePrefix = "shbr-"
	vethPrefix   = "shv"
)

// Config configures a Manager.
type Config struct {
	// Root holds network.db (networks, sandboxes, ipam).
	Root string
	// ExecRoot holds the containers' network namespace files (netns/).
	ExecRoot string
	// Table is the nftables table Shoal owns ("shoal").
	Table string
	// DefaultBridge is the default network's bridge ("shoal0"); "none"
	// means no default bridge network, as dockerd's --bridge=none.
	DefaultBridge string
	// DefaultBridgeIP is dockerd's --bip: the default bridge's gateway
	// address and subnet.
	DefaultBridgeIP netip.Prefix
	// HostID seeds the unique local IPv6 prefix of networks created with
	// --ipv6 and no subnet (dockerd derives it from its engine ID too).
	HostID string
	// Upstreams are the resolvers the embedded DNS forwards to.
	Upstreams func() []netip.AddrPort
	Log       *slog.Logger
}

// Manager owns a host's networks and the containers' network stacks.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	bolt  *bolt.DB
	db    db
	ipam  *ipam.Allocator
	fw    *firewall.Firewall
	dns   *dns.Server
	rec   *dns.Store
	ports *portBook

	mu   sync.RWMutex
	nets map[string]*Network // by ID
	// sandboxes by container ID; users counts endpoints per network.
	sandboxes map[string]*Sandbox
	users     map[string]int

	v6Once sync.Once
	v6     bool
}

// New opens the network state, makes the predefined networks on first
// use and brings the kernel in line with what is stored.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Table == "" {
		cfg.Table = "shoal"
	}
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = "shoal0"
	}
	if cfg.Upstreams == nil {
		cfg.Upstreams = func() []netip.AddrPort { return nil }
	}
	if err := os.MkdirAll(filepath.Join(cfg.ExecRoot, "netns"), 0o711); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	b, err := bolt.Open(filepath.Join(cfg.Root, "network.db"), 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open network store: %w", err)
	}
	b.MaxBatchDelay = time.Millisecond
	m := &Manager{cfg: cfg, log: cfg.Log, bolt: b, db: db{b}, ports: newPortBook(),
		nets: map[string]*Network{}, sandboxes: map[string]*Sandbox{}, users: map[string]int{}}
	fail := func(err error) (*Manager, error) {
		m.Close()
		return nil, err
	}
	if err := m.db.init(); err != nil {
		return fail(fmt.Errorf("open network store: %w", err))
	}
	if m.ipam, err = ipam.New(b); err != nil {
		return fail(err)
	}
	if m.fw, err = firewall.New(firewall.Config{Table: cfg.Table, Logger: cfg.Log.With("part", "firewall")}); err != nil {
		return fail(fmt.Errorf("nftables: %w", err))
	}
	m.rec = dns.NewStore()
	if m.dns, err = dns.New(dns.Config{Store: m.rec, Upstreams: cfg.Upstreams, Logger: cfg.Log.With("part", "dns")}); err != nil {
		return fail(err)
	}
	nets, err := m.db.networks()
	if err != nil {
		return fail(err)
	}
	for _, n := range nets {
		m.nets[n.ID] = n
	}
	if err := m.predefined(ctx); err != nil {
		return fail(err)
	}
	sbs, err := m.db.sandboxes()
	if err != nil {
		return fail(err)
	}
	for _, s := range sbs {
		m.sandboxes[s.ContainerID] = s
		for _, ep := range s.Endpoints {
			m.users[ep.NetworkID]++
		}
	}
	return m, nil
}

// Close releases the manager's sockets and store; kernel state stays for
// the next daemon.
func (m *Manager) Close() error {
	if m.dns != nil {
		m.dns.Shutdown()
	}
	if m.ports != nil {
		for owner := range m.ports.owner {
			m.ports.release(owner)
		}
	}
	if m.bolt != nil {
		return m.bolt.Close()
	}
	return nil
}

func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// predefined makes the bridge, host and none networks the first time.
func (m *Manager) predefined(ctx context.Context) error {
	have := map[string]*Network{}
	for _, n := range m.nets {
		have[n.Name] = n
	}
	for _, p := range []struct{ name, driver string }{{"host", DriverHost}, {"none", DriverNull}} {
		if have[p.name] == nil {
			n := &Network{ID: newID(), Name: p.name, Driver: p.driver, Created: time.Now().UTC(), IPv4: true}
			if err := m.db.put(bucketNetworks, n.ID, n); err != nil {
				return fmt.Errorf("create network %s: %w", p.name, err)
			}
			m.nets[n.ID] = n
		}
	}
	def := have["bridge"]
	if m.cfg.DefaultBridge == "none" {
		if def != nil && def.Default {
			// --bridge=none now: the default network goes (dockerd's
			// behaviour); its containers lost their network with it.
			if err := m.removeNetwork(ctx, def, true); err != nil {
				return err
			}
		}
		return nil
	}
	if def != nil && def.Bridge == m.cfg.DefaultBridge && (!m.cfg.DefaultBridgeIP.IsValid() || (len(def.Subnets) > 0 && def.Subnets[0].Gateway == m.cfg.DefaultBridgeIP.Addr() && def.Subnets[0].Subnet == m.cfg.DefaultBridgeIP.Masked())) {
		return m.ensureKernel(ctx, def)
	}
	if def != nil {
		if err := m.removeNetwork(ctx, def, true); err != nil {
			return err
		}
	}
	n := &Network{ID: newID(), Name: "bridge", Driver: DriverBridge, Created: time.Now().UTC(), Bridge: m.cfg.DefaultBridge,
		IPv4: true, Default: true, ICC: true, Masquerade: true,
		Options: map[string]string{
			"com.docker.network.bridge.default_bridge":       "true",
			"com.docker.network.bridge.enable_icc":           "true",
			"com.docker.network.bridge.enable_ip_masquerade": "true",
			"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
			"com.docker.network.bridge.name":                 m.cfg.DefaultBridge,
			"com.docker.network.driver.mtu":                  "1500",
		}}
	var pool ipam.Pool
	var err error
	if p := m.cfg.DefaultBridgeIP; p.IsValid() {
		pool = ipam.Pool{Subnet: p.Masked(), Gateway: p.Addr()}
		err = m.ipam.AddPool(n.ID, pool)
	} else {
		pool, err = m.ipam.DefaultPool(n.ID, false, ipam.DefaultV4Pools(), m.routeTaken)
	}
	if err != nil {
		return fmt.Errorf("default bridge network: %w", err)
	}
	n.Subnets = []Subnet{{Subnet: pool.Subnet, Gateway: pool.Gateway}}
	if err := m.db.put(bucketNetworks, n.ID, n); err != nil {
		return err
	}
	m.nets[n.ID] = n
	return m.ensureKernel(ctx, n)
}

// CreateRequest is docker network create's request, converted.
type CreateRequest struct {
	Name       string
	Driver     string
	IPv4       *bool
	IPv6       *bool
	Internal   bool
	Attachable bool
	Labels     map[string]string
	Options    map[string]string
	Pools      []ipam.Pool
	// IPAMDriver is "" or "default": no other IPAM driver exists here.
	IPAMDriver string
}

var knownOptions = map[string]bool{
	"com.docker.network.bridge.name":                 true,
	"com.docker.network.bridge.enable_icc":           true,
	"com.docker.network.bridge.enable_ip_masquerade": true,
	"com.docker.network.driver.mtu":                  true,
}

// Create makes a network: its pools, bridge and rules, or nothing.
func (m *Manager) Create(ctx context.Context, req CreateRequest) (*Network, error) {
	if req.Name == "" {
		return nil, fmt.Errorf("network name is required: %w", errdefs.ErrInvalidArgument)
	}
	switch req.Driver {
	case "", DriverBridge:
	case DriverHost, DriverNull:
		return nil, fmt.Errorf("only one instance of %q network is allowed: %w", req.Driver, errdefs.ErrPermissionDenied)
	default:
		return nil, fmt.Errorf("plugin %q not found: network driver %q is not supported by Shoal: %w", req.Driver, req.Driver, errdefs.ErrNotFound)
	}
	if req.IPAMDriver != "" && req.IPAMDriver != "default" {
		return nil, fmt.Errorf("plugin %q not found: IPAM driver %q is not supported by Shoal: %w", req.IPAMDriver, req.IPAMDriver, errdefs.ErrNotFound)
	}
	n := &Network{ID: newID(), Name: req.Name, Driver: DriverBridge, Created: time.Now().UTC(),
		IPv4: req.IPv4 == nil || *req.IPv4, IPv6: req.IPv6 != nil && *req.IPv6,
		Internal: req.Internal, Attachable: req.Attachable, Labels: req.Labels, Options: map[string]string{},
		ICC: true, Masquerade: true}
	n.Bridge = bridgePrefix + n.ID[:10]
	for k, v := range req.Options {
		if strings.HasPrefix(k, "com.docker.network.") && !knownOptions[k] {
			return nil, fmt.Errorf("network option %s is not supported by Shoal: %w", k, errdefs.ErrInvalidArgument)
		}
		n.Options[k] = v
		var err error
		switch k {
		case "com.docker.network.bridge.name":
			if v == "" || len(v) > 15 || strings.ContainsAny(v, "/ \t\n:") {
				return nil, fmt.Errorf("invalid bridge name %q: %w", v, errdefs.ErrInvalidArgument)
			}
			n.Bridge = v
		case "com.docker.network.bridge.enable_icc":
			n.ICC, err = strconv.ParseBool(v)
		case "com.docker.network.bridge.enable_ip_masquerade":
			n.Masquerade, err = strconv.ParseBool(v)
		case "com.docker.network.driver.mtu":
			n.MTU, err = strconv.Atoi(v)
			if err == nil && (n.MTU < 68 || n.MTU > 65535) {
				err = errors.New("out of range")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("invalid value %q for option %s: %w", v, k, errdefs.ErrInvalidArgument)
		}
	}
	if !n.IPv4 && !n.IPv6 {
		return nil, fmt.Errorf("network %s: IPv4 or IPv6 must be enabled: %w", req.Name, errdefs.ErrInvalidArgument)
	}
	var v4, v6 []ipam.Pool
	for _, p := range req.Pools {
		if p.Subnet.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	if len(v6) > 0 && !n.IPv6 {
		return nil, fmt.Errorf("invalid network config: IPv6 subnet %s given but IPv6 is not enabled (--ipv6): %w", v6[0].Subnet, errdefs.ErrInvalidArgument)
	}
	if len(v4) > 0 && !n.IPv4 {
		return nil, fmt.Errorf("invalid network config: IPv4 subnet %s given but IPv4 is disabled: %w", v4[0].Subnet, errdefs.ErrInvalidArgument)
	}
	if len(v4) > 1 || len(v6) > 1 {
		return nil, fmt.Errorf("a bridge network takes one subnet per address family: %w", errdefs.ErrInvalidArgument)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.nets {
		if o.Name == req.Name {
			return nil, fmt.Errorf("network with name %s already exists: %w", req.Name, errdefs.ErrConflict)
		}
		if o.Bridge != "" && o.Bridge == n.Bridge {
			return nil, fmt.Errorf("bridge name %s is used by network %s: %w", n.Bridge, o.Name, errdefs.ErrConflict)
		}
	}
	ok := false
	defer func() {
		if !ok {
			_ = m.ipam.RemovePool(n.ID)
		}
	}()
	add := func(pools []ipam.Pool, v6 bool) error {
		if len(pools) == 0 {
			if v6 {
				p, err := m.ipam.DefaultPool(n.ID, true, ipam.DefaultV6Pools(m.cfg.HostID), m.routeTaken)
				if err != nil {
					return err
				}
				n.Subnets = append(n.Subnets, Subnet{Subnet: p.Subnet, Gateway: p.Gateway})
				return nil
			}
			p, err := m.ipam.DefaultPool(n.ID, false, ipam.DefaultV4Pools(), m.routeTaken)
			if err != nil {
				return err
			}
			n.Subnets = append(n.Subnets, Subnet{Subnet: p.Subnet, Gateway: p.Gateway})
			return nil
		}
		p := pools[0]
		if err := m.ipam.AddPool(n.ID, p); err != nil {
			return err
		}
		n.Subnets = append(n.Subnets, Subnet{Subnet: p.Subnet, IPRange: p.IPRange, Gateway: p.Gateway, Aux: p.Aux, User: true})
		return nil
	}
	if n.IPv4 {
		if err := add(v4, false); err != nil {
			return nil, err
		}
	}
	if n.IPv6 {
		if err := add(v6, true); err != nil {
			return nil, err
		}
	}
	if err := m.ensureKernel(ctx, n); err != nil {
		_ = m.dropKernel(context.WithoutCancel(ctx), n)
		return nil, err
	}
	if err := m.db.put(bucketNetworks, n.ID, n); err != nil {
		_ = m.dropKernel(context.WithoutCancel(ctx), n)
		return nil, fmt.Errorf("save network %s: %w", n.Name, err)
	}
	m.nets[n.ID] = n
	ok = true
	return n.clone(), nil
}

func (n *Network) clone() *Network {
	c := *n
	c.Subnets = append([]Subnet(nil), n.Subnets...)
	return &c
}

// lookupLocked finds a network by full ID, name, or unique ID prefix, as
// dockerd does.
func (m *Manager) lookupLocked(ref string) (*Network, error) {
	if ref == "" {
		return nil, fmt.Errorf("network name is empty: %w", errdefs.ErrInvalidArgument)
	}
	if n, ok := m.nets[ref]; ok {
		return n, nil
	}
	for _, n := range m.nets {
		if n.Name == ref {
			return n, nil
		}
	}
	var found *Network
	for id, n := range m.nets {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, fmt.Errorf("network %s is ambiguous (%d matches found based on ID prefix): %w", ref, 2, errdefs.ErrInvalidArgument)
			}
			found = n
		}
	}
	if found == nil {
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return found, nil
}

// Get returns a network by ID, name or unique ID prefix.
func (m *Manager) Get(ctx context.Context, ref string) (*Network, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	return n.clone(), nil
}

// List returns every network, by name.
func (m *Manager) List(ctx context.Context) []*Network {
	m.mu.RLock()
	out := make([]*Network, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, n.clone())
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// InUse says how many endpoints a network has.
func (m *Manager) InUse(id string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.users[id]
}

// Remove deletes a user-defined network that no container uses.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookupLocked(ref)
	if err != nil {
		return err
	}
	if n.Default || n.Driver == DriverHost || n.Driver == DriverNull {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", n.Name, errdefs.ErrPermissionDenied)
	}
	if m.users[n.ID] > 0 {
		return fmt.Errorf("error while removing network: network %s has active endpoints: %w", n.Name, errdefs.ErrPermissionDenied)
	}
	return m.removeNetwork(ctx, n, false)
}

// removeNetwork drops n's kernel objects, pools and record. force skips
// the endpoint check (the default bridge going away with --bridge=none).
func (m *Manager) removeNetwork(ctx context.Context, n *Network, force bool) error {
	if err := m.dropKernel(ctx, n); err != nil {
		return err
	}
	if err := m.ipam.RemovePool(n.ID); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if err := m.db.delete(bucketNetworks, n.ID); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	delete(m.nets, n.ID)
	return nil
}

// routeTaken says whether a candidate default pool overlaps a route of
// the host (so a network never shadows the host's own LAN).
func (m *Manager) routeTaken(p netip.Prefix) bool {
	routes, err := hostRoutes()
	if err != nil {
		return false
	}
	for _, r := range routes {
		if r.Bits() > 0 && ipam.Overlaps(r, p) {
			return true
		}
	}
	return false
}

// firewallNetwork is n's rules.
func firewallNetwork(n *Network) firewall.Network {
	fn := firewall.Network{Bridge: n.Bridge, Internal: n.Internal, Masquerade: n.Masquerade && !n.Internal, ICC: n.ICC}
	for _, s := range n.Subnets {
		fn.Subnets = append(fn.Subnets, s.Subnet)
	}
	return fn
}
