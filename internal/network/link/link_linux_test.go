package link

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

// Every root test works in namespaces of its own: hostNS plays the
// daemon's namespace (all package calls run in it through InNetNS) and
// containerNS the containers'. Nothing touches the real host.

func hostNS(t *testing.T) string {
	t.Helper()
	testutil.RequiresRoot(t)
	return testutil.NewNetNS(t)
}

// containerNS makes a namespace with NewNetNS (the code under test) and
// deletes it at clean-up.
func containerNS(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := NewNetNS(path); err != nil {
		t.Fatalf("NewNetNS(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := DeleteNetNS(path); err != nil {
			t.Errorf("DeleteNetNS(%s): %v", path, err)
		}
	})
	return path
}

// handleAt is a netlink handle in the namespace at path, for inspection.
func handleAt(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// in runs fn in the namespace at ns and fails t if fn fails.
func in(t *testing.T, ns string, fn func() error) {
	t.Helper()
	if err := InNetNS(ns, fn); err != nil {
		t.Fatal(err)
	}
}

func sysctlAt(t *testing.T, ns string, key ...string) string {
	t.Helper()
	var v []byte
	in(t, ns, func() (err error) {
		v, err = os.ReadFile(filepath.Join(append([]string{"/proc/sys/net"}, key...)...))
		return err
	})
	return strings.TrimSpace(string(v))
}

func linkNames(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return names
}

func addrsOf(t *testing.T, h *netlink.Handle, l netlink.Link) (global []netip.Prefix, all []netlink.Addr) {
	t.Helper()
	all, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range all {
		p, _ := prefixOf(a)
		if !p.Addr().IsLinkLocalUnicast() {
			global = append(global, p)
		}
	}
	slices.SortFunc(global, func(a, b netip.Prefix) int { return strings.Compare(a.String(), b.String()) })
	return global, all
}

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	long := "abcdefghijklmnop" // 16 bytes
	tests := []struct {
		name string
		err  error
	}{
		{"bridge name empty", EnsureBridge(ctx, Bridge{})},
		{"bridge name too long", EnsureBridge(ctx, Bridge{Name: long})},
		{"bridge name with slash", EnsureBridge(ctx, Bridge{Name: "a/b"})},
		{"bridge IPv6 address without IPv6", EnsureBridge(ctx, Bridge{Name: "shtbr0", Addrs: pfx("fd00::1/64")})},
		{"bridge invalid address", EnsureBridge(ctx, Bridge{Name: "shtbr0", Addrs: []netip.Prefix{{}}})},
		{"delete bridge bad name", DeleteBridge(long)},
		{"remove endpoint bad name", RemoveEndpoint("")},
		{"endpoint without netns", AddEndpoint(ctx, Endpoint{HostIfName: "shtv0", Bridge: "shtbr0", IfName: "eth0"})},
		{"endpoint without ifname", AddEndpoint(ctx, Endpoint{HostIfName: "shtv0", Bridge: "shtbr0", NetNS: "/x"})},
		{"endpoint multicast MAC", AddEndpoint(ctx, Endpoint{HostIfName: "shtv0", Bridge: "shtbr0", NetNS: "/x", IfName: "eth0",
			MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}})},
		{"endpoint bad gateway", AddEndpoint(ctx, Endpoint{HostIfName: "shtv0", Bridge: "shtbr0", NetNS: "/x", IfName: "eth0",
			Gateways: []netip.Addr{netip.IPv4Unspecified()}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errdefs.IsInvalidArgument(tt.err) {
				t.Errorf("got %v, want an ErrInvalidArgument error", tt.err)
			}
		})
	}
}

func TestNetNS(t *testing.T) {
	testutil.RequiresRoot(t)
	path := filepath.Join(t.TempDir(), "ns")
	if err := NewNetNS(path); err != nil {
		t.Fatalf("NewNetNS: %v", err)
	}
	t.Cleanup(func() { _ = DeleteNetNS(path) })

	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		t.Fatalf("statfs(%s) = type %#x, %v: want a namespace file", path, st.Type, err)
	}
	h := handleAt(t, path)
	if got := linkNames(t, h); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("links in new namespace = %v, want [lo]", got)
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if lo.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo is down in a namespace from NewNetNS")
	}

	// InNetNS runs in that namespace, not the caller's.
	var want, got unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		t.Fatal(err)
	}
	in(t, path, func() error { return unix.Stat("/proc/thread-self/ns/net", &got) })
	if got.Ino != want.Ino {
		t.Errorf("InNetNS ran in namespace inode %d, want %d", got.Ino, want.Ino)
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &self); err != nil {
		t.Fatal(err)
	}
	if self.Ino == want.Ino {
		t.Errorf("the test's own thread is in the new namespace")
	}
	if err := InNetNS(path, func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("InNetNS(panicking fn) = %v, want an error naming the panic", err)
	}
	if err := InNetNS(filepath.Join(t.TempDir(), "missing"), func() error { return nil }); err == nil {
		t.Errorf("InNetNS(missing file) = nil, want an error")
	}

	if err := NewNetNS(path); !errdefs.IsAlreadyExists(err) {
		t.Errorf("NewNetNS(existing namespace) = %v, want ErrAlreadyExists", err)
	}
	if err := DeleteNetNS(path); err != nil {
		t.Fatalf("DeleteNetNS: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after DeleteNetNS, stat(%s) = %v, want not exist", path, err)
	}
	if err := DeleteNetNS(path); err != nil {
		t.Errorf("DeleteNetNS(missing) = %v, want nil", err)
	}
	if err := NewNetNS(filepath.Join(t.TempDir(), "no", "dir")); err == nil {
		t.Errorf("NewNetNS in a missing directory = nil, want an error")
	}
}

func TestBridge(t *testing.T) {
	host := hostNS(t)
	ctx := t.Context()
	h := handleAt(t, host)

	b := Bridge{Name: "shtbr0", Addrs: pfx("10.77.0.1/24", "fd77::1/64"), MTU: 1400, IPv6: true, RouteLocalnet: true}
	in(t, host, func() error { return EnsureBridge(ctx, b) })
	check := func(want []netip.Prefix) netlink.Link {
		t.Helper()
		l, err := h.LinkByName(b.Name)
		if err != nil {
			t.Fatalf("bridge missing: %v", err)
		}
		if l.Type() != "bridge" || l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("bridge: type %s, MTU %d, flags %v; want an up bridge with MTU 1400", l.Type(), l.Attrs().MTU, l.Attrs().Flags)
		}
		got, all := addrsOf(t, h, l)
		if !slices.Equal(got, want) {
			t.Errorf("bridge addresses = %v, want %v", got, want)
		}
		for _, a := range all {
			if p, _ := prefixOf(a); p.Addr().Is6() && !p.Addr().IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE != 0 {
				t.Errorf("bridge address %s is tentative: DAD was not turned off", p)
			}
		}
		return l
	}
	first := check(pfx("10.77.0.1/24", "fd77::1/64"))
	for key, want := range map[string]string{
		"ipv6/conf/shtbr0/disable_ipv6":   "0",
		"ipv6/conf/shtbr0/accept_dad":     "0",
		"ipv4/conf/shtbr0/route_localnet": "1",
	} {
		if got := sysctlAt(t, host, key); got != want {
			t.Errorf("sysctl %s = %s, want %s", key, got, want)
		}
	}

	// Idempotent: same state, same MAC (it was set, so ports do not change it).
	in(t, host, func() error { return EnsureBridge(ctx, b) })
	if again := check(pfx("10.77.0.1/24", "fd77::1/64")); !bytes.Equal(again.Attrs().HardwareAddr, first.Attrs().HardwareAddr) {
		t.Errorf("bridge MAC changed from %s to %s", first.Attrs().HardwareAddr, again.Attrs().HardwareAddr)
	}

	// A recreated network with other subnets: the old addresses go.
	b.Addrs = pfx("10.78.0.1/16", "fd78::1/64")
	in(t, host, func() error { return EnsureBridge(ctx, b) })
	check(pfx("10.78.0.1/16", "fd78::1/64"))
	b.Addrs, b.IPv6 = pfx("10.79.0.1/24"), false
	in(t, host, func() error { return EnsureBridge(ctx, b) })
	check(pfx("10.79.0.1/24"))

	// A link of the name asked for but of another type is not touched.
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "shtvx"}, PeerName: "shtvy"}); err != nil {
		t.Fatal(err)
	}
	in(t, host, func() error {
		if err := EnsureBridge(ctx, Bridge{Name: "shtvx"}); !errdefs.IsConflict(err) {
			return fmt.Errorf("EnsureBridge(veth) = %v, want ErrConflict", err)
		}
		if err := DeleteBridge("shtvx"); !errdefs.IsConflict(err) {
			return fmt.Errorf("DeleteBridge(veth) = %v, want ErrConflict", err)
		}
		if err := RemoveEndpoint(b.Name); !errdefs.IsConflict(err) {
			return fmt.Errorf("RemoveEndpoint(bridge) = %v, want ErrConflict", err)
		}
		return nil
	})
	if names := linkNames(t, h); !slices.Contains(names, "shtvx") || !slices.Contains(names, b.Name) {
		t.Errorf("links after refused calls = %v, want shtvx and %s kept", names, b.Name)
	}

	in(t, host, func() error { return DeleteBridge(b.Name) })
	if slices.Contains(linkNames(t, h), b.Name) {
		t.Errorf("bridge %s still exists after DeleteBridge", b.Name)
	}
	in(t, host, func() error { return DeleteBridge(b.Name) }) // missing: nil
}

func TestEnableForwarding(t *testing.T) {
	host := hostNS(t)
	// A new namespace may inherit the host's IPv4 settings: start from off.
	in(t, host, func() error {
		return errors.Join(setSysctl("0", "ipv4", "ip_forward"), setSysctl("0", "ipv6", "conf", "all", "forwarding"))
	})
	in(t, host, func() error { return EnableForwarding(true, false) })
	if got := sysctlAt(t, host, "ipv4", "ip_forward"); got != "1" {
		t.Errorf("ip_forward = %s, want 1", got)
	}
	if got := sysctlAt(t, host, "ipv6", "conf", "all", "forwarding"); got != "0" {
		t.Errorf("IPv6 forwarding = %s after EnableForwarding(true, false), want 0", got)
	}
	in(t, host, func() error { return EnableForwarding(true, true) })
	if got := sysctlAt(t, host, "ipv6", "conf", "all", "forwarding"); got != "1" {
		t.Errorf("IPv6 forwarding = %s, want 1", got)
	}
}

// network makes a bridge in host for endpoint tests.
func network(t *testing.T, host string, b Bridge) {
	t.Helper()
	in(t, host, func() error { return EnsureBridge(t.Context(), b) })
}

func TestEndpoint(t *testing.T) {
	host := hostNS(t)
	ctx := t.Context()
	hh := handleAt(t, host)
	network(t, host, Bridge{Name: "shtbr0", Addrs: pfx("10.87.0.1/24", "fd87::1/64"), IPv6: true, MTU: 1450})
	network(t, host, Bridge{Name: "shtbr1", Addrs: pfx("10.88.0.1/24")})
	c1, c2 := containerNS(t, "c1"), containerNS(t, "c2")

	ep1 := Endpoint{
		HostIfName: "shtv1", Bridge: "shtbr0", NetNS: c1, IfName: "eth0",
		MAC:   MACFromIP(netip.MustParseAddr("10.87.0.2")),
		Addrs: pfx("10.87.0.2/24", "fd87::2/64"), Gateways: []netip.Addr{netip.MustParseAddr("10.87.0.1"), netip.MustParseAddr("fd87::1")},
		DefaultRoute: true, MTU: 1450, Hairpin: true,
	}
	ep2 := ep1
	ep2.HostIfName, ep2.NetNS, ep2.MAC, ep2.Addrs, ep2.DefaultRoute, ep2.Hairpin = "shtv2", c2, RandomMAC(), pfx("10.87.0.3/24", "fd87::3/64"), false, false
	// c2 on a second, IPv4-only network too.
	ep3 := Endpoint{HostIfName: "shtv3", Bridge: "shtbr1", NetNS: c2, IfName: "eth1", Addrs: pfx("10.88.0.3/24"),
		Gateways: []netip.Addr{netip.MustParseAddr("10.88.0.1")}, DefaultRoute: true}
	for _, ep := range []Endpoint{ep1, ep2, ep3} {
		in(t, host, func() error { return AddEndpoint(ctx, ep) })
	}

	// Host side: a port of the bridge, up, hairpin as asked.
	for _, ep := range []Endpoint{ep1, ep2} {
		l, err := hh.LinkByName(ep.HostIfName)
		if err != nil {
			t.Fatalf("host side %s: %v", ep.HostIfName, err)
		}
		br, _ := hh.LinkByName(ep.Bridge)
		if l.Type() != "veth" || l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().MTU != 1450 {
			t.Errorf("host side %s: type %s, master %d (bridge %d), flags %v, MTU %d", ep.HostIfName,
				l.Type(), l.Attrs().MasterIndex, br.Attrs().Index, l.Attrs().Flags, l.Attrs().MTU)
		}
		pi, err := hh.LinkGetProtinfo(l)
		if err != nil {
			t.Fatal(err)
		}
		if pi.Hairpin != ep.Hairpin {
			t.Errorf("hairpin of %s = %v, want %v", ep.HostIfName, pi.Hairpin, ep.Hairpin)
		}
	}

	// Container side.
	h1 := handleAt(t, c1)
	if got := linkNames(t, h1); !slices.Equal(got, []string{"eth0", "lo"}) {
		t.Errorf("links in c1 = %v, want [eth0 lo]", got)
	}
	eth0, err := h1.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(eth0.Attrs().HardwareAddr, ep1.MAC) || eth0.Attrs().MTU != 1450 || eth0.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("c1 eth0: MAC %s, MTU %d, flags %v; want MAC %s, MTU 1450, up", eth0.Attrs().HardwareAddr, eth0.Attrs().MTU, eth0.Attrs().Flags, ep1.MAC)
	}
	got, all := addrsOf(t, h1, eth0)
	if !slices.Equal(got, pfx("10.87.0.2/24", "fd87::2/64")) {
		t.Errorf("c1 eth0 addresses = %v", got)
	}
	for _, a := range all {
		if p, _ := prefixOf(a); p.Addr() == netip.MustParseAddr("fd87::2") && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
			t.Errorf("c1 address %s has flags %#x: want it usable at once", p, a.Flags)
		}
	}
	defaults := func(h *netlink.Handle) []string {
		routes, err := h.RouteList(nil, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range routes {
			if (r.Dst == nil || r.Dst.IP.IsUnspecified()) && r.Gw != nil {
				l, _ := h.LinkByIndex(r.LinkIndex)
				out = append(out, r.Gw.String()+"@"+l.Attrs().Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if got := defaults(h1); !slices.Equal(got, []string{"10.87.0.1@eth0", "fd87::1@eth0"}) {
		t.Errorf("c1 default routes = %v, want via 10.87.0.1 and fd87::1 on eth0", got)
	}
	h2 := handleAt(t, c2)
	if got := defaults(h2); !slices.Equal(got, []string{"10.88.0.1@eth1"}) {
		t.Errorf("c2 default routes = %v, want only via 10.88.0.1 on eth1", got)
	}
	if v := sysctlAt(t, c2, "ipv6/conf/eth0/disable_ipv6"); v != "0" {
		t.Errorf("c2 eth0 (IPv6 network) disable_ipv6 = %s, want 0", v)
	}
	if v := sysctlAt(t, c2, "ipv6/conf/eth1/disable_ipv6"); v != "1" {
		t.Errorf("c2 eth1 (IPv4-only network) disable_ipv6 = %s, want 1", v)
	}

	for _, name := range []string{"shtv1", "shtv2", "shtv3"} {
		var ok bool
		in(t, host, func() (err error) { ok, err = EndpointExists(name); return err })
		if !ok {
			t.Errorf("EndpointExists(%s) = false", name)
		}
	}
	var listed []string
	in(t, host, func() (err error) { listed, err = ListLinks("shtv"); return err })
	slices.Sort(listed)
	if !slices.Equal(listed, []string{"shtv1", "shtv2", "shtv3"}) {
		t.Errorf("ListLinks(shtv) = %v", listed)
	}

	// Traffic between the two containers, over the bridge, at once.
	for _, addr := range []string{"10.87.0.2", "fd87::2"} {
		t.Run("tcp "+addr, func(t *testing.T) { tcpRoundTrip(t, c1, c2, addr) })
	}

	in(t, host, func() error { return RemoveEndpoint("shtv1") })
	if slices.Contains(linkNames(t, hh), "shtv1") {
		t.Errorf("host side shtv1 still exists")
	}
	if got := linkNames(t, h1); !slices.Equal(got, []string{"lo"}) {
		t.Errorf("links in c1 after RemoveEndpoint = %v, want [lo]", got)
	}
	in(t, host, func() error {
		if ok, err := EndpointExists("shtv1"); ok || err != nil {
			return fmt.Errorf("EndpointExists(removed) = %v, %v", ok, err)
		}
		return RemoveEndpoint("shtv1") // missing: nil
	})
	// Deleting the bridge leaves the remaining ports, detached.
	in(t, host, func() error { return DeleteBridge("shtbr0") })
	if l, err := hh.LinkByName("shtv2"); err != nil || l.Attrs().MasterIndex != 0 {
		t.Errorf("after DeleteBridge, shtv2 = %v, %v: want it detached", l, err)
	}
}

// tcpRoundTrip listens on addr in server's namespace and talks to it from
// client's.
func tcpRoundTrip(t *testing.T, server, client, addr string) {
	t.Helper()
	var ln net.Listener
	in(t, server, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(addr, "0"))
		return err
	})
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(c, io.LimitReader(c, 5))
	}()
	in(t, client, func() error {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if err != nil {
			return fmt.Errorf("dial %s: %w", ln.Addr(), err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write([]byte("hello")); err != nil {
			return err
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
			return fmt.Errorf("echo from %s = %q, %v", ln.Addr(), buf, err)
		}
		return nil
	})
}

func TestEndpointFailures(t *testing.T) {
	host := hostNS(t)
	ctx := t.Context()
	hh := handleAt(t, host)
	network(t, host, Bridge{Name: "shtbr0", Addrs: pfx("10.87.0.1/24")})
	c := containerNS(t, "c")
	hc := handleAt(t, c)
	good := Endpoint{HostIfName: "shtv1", Bridge: "shtbr0", NetNS: c, IfName: "eth0", Addrs: pfx("10.87.0.2/24"),
		Gateways: []netip.Addr{netip.MustParseAddr("10.87.0.1")}, DefaultRoute: true}

	clean := func(t *testing.T) {
		t.Helper()
		var left []string
		in(t, host, func() (err error) { left, err = ListLinks("shtv"); return err })
		if len(left) != 0 {
			t.Errorf("host links left behind: %v", left)
		}
		if got := linkNames(t, hc); !slices.Equal(got, []string{"lo"}) {
			t.Errorf("container links left behind: %v", got)
		}
	}
	tests := []struct {
		name  string
		edit  func(*Endpoint)
		class func(error) bool
	}{
		{"missing bridge", func(ep *Endpoint) { ep.Bridge = "shtnobr" }, errdefs.IsNotFound},
		{"missing netns", func(ep *Endpoint) { ep.NetNS = filepath.Join(t.TempDir(), "none") }, errdefs.IsNotFound},
		{"bridge is not a bridge", func(ep *Endpoint) { ep.Bridge = "lo" }, errdefs.IsInvalidArgument},
		{"unreachable gateway", func(ep *Endpoint) { ep.Gateways = []netip.Addr{netip.MustParseAddr("10.99.0.1")} }, nil},
		{"cancelled", nil, func(err error) bool { return errors.Is(err, context.Canceled) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, ctx := good, ctx
			if tt.edit != nil {
				tt.edit(&ep)
			} else {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				ctx = cctx
			}
			err := InNetNS(host, func() error { return AddEndpoint(ctx, ep) })
			if err == nil {
				t.Fatalf("AddEndpoint = nil, want an error")
			}
			if tt.class != nil && !tt.class(err) {
				t.Errorf("AddEndpoint = %v: wrong error class", err)
			}
			clean(t)
		})
	}

	t.Run("container name taken", func(t *testing.T) {
		if err := hc.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}}); err != nil {
			t.Fatal(err)
		}
		err := InNetNS(host, func() error { return AddEndpoint(ctx, good) })
		if !errdefs.IsAlreadyExists(err) {
			t.Errorf("AddEndpoint = %v, want ErrAlreadyExists", err)
		}
		var left []string
		in(t, host, func() (err error) { left, err = ListLinks("shtv"); return err })
		if len(left) != 0 {
			t.Errorf("host links left behind: %v", left)
		}
		l, err := hc.LinkByName("eth0")
		if err != nil || l.Type() != "bridge" {
			t.Fatalf("the container's own eth0 = %v, %v: want it untouched", l, err)
		}
		if err := hc.LinkDel(l); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("host name taken", func(t *testing.T) {
		in(t, host, func() error { return AddEndpoint(ctx, good) })
		other := good
		other.IfName = "eth1"
		err := InNetNS(host, func() error { return AddEndpoint(ctx, other) })
		if !errdefs.IsAlreadyExists(err) {
			t.Errorf("AddEndpoint(same host name) = %v, want ErrAlreadyExists", err)
		}
		if got := linkNames(t, hc); !slices.Equal(got, []string{"eth0", "lo"}) {
			t.Errorf("container links = %v, want the first endpoint's eth0 kept", got)
		}
		in(t, host, func() error { return RemoveEndpoint(good.HostIfName) })
		clean(t)
	})
	if slices.Contains(linkNames(t, hh), "shtv1") {
		t.Errorf("shtv1 left in the host namespace")
	}
}
