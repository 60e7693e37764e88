package firewall

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// topology is three namespaces made for one test:
//
//	ctr (10.88.0.2/24, default via .1) ── veth ── host: bridge shtbr0 10.88.0.1/24
//	                                               host: shto0 10.99.0.1/24 ── veth ── out (10.99.0.2/24)
//
// out routes 10.88.0.0/24 via the host, so that only the host's rules
// decide what reaches the container. Every address lives inside these
// namespaces.
type topology struct {
	host, ctr, out string // namespace paths
	hostFd         int
}

const (
	testBridge = "shtbr0"
	gatewayIP  = "10.88.0.1"
	ctrIP      = "10.88.0.2"
	hostOutIP  = "10.99.0.1"
	outIP      = "10.99.0.2"
)

func handleAt(t *testing.T, path string) *netlink.Handle {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Delete)
	return h
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func linkUp(t *testing.T, h *netlink.Handle, name, cidr string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, "find "+name, err)
	if cidr != "" {
		a, err := netlink.ParseAddr(cidr)
		must(t, "parse "+cidr, err)
		must(t, "address "+name, h.AddrAdd(l, a))
	}
	must(t, "up "+name, h.LinkSetUp(l))
	return l
}

func sysctl(t *testing.T, ns, key, val string) {
	t.Helper()
	err := testutil.InNetNS(ns, func() error {
		return os.WriteFile("/proc/sys/"+strings.ReplaceAll(key, ".", "/"), []byte(val), 0o644)
	})
	must(t, "sysctl "+key, err)
}

func newTopology(t *testing.T) topology {
	t.Helper()
	testutil.RequiresRoot(t)
	top := topology{host: testutil.NewNetNS(t), ctr: testutil.NewNetNS(t), out: testutil.NewNetNS(t)}
	top.hostFd = openNS(t, top.host)
	ctrFd, outFd := openNS(t, top.ctr), openNS(t, top.out)
	h, c, o := handleAt(t, top.host), handleAt(t, top.ctr), handleAt(t, top.out)

	for _, hh := range []*netlink.Handle{h, c, o} {
		linkUp(t, hh, "lo", "")
	}
	must(t, "add bridge", h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: testBridge}}))
	br := linkUp(t, h, testBridge, gatewayIP+"/24")
	must(t, "add veth", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "shtv0"}, PeerName: "shtc0"}))
	port, err := h.LinkByName("shtv0")
	must(t, "find shtv0", err)
	must(t, "enslave shtv0", h.LinkSetMaster(port, br))
	linkUp(t, h, "shtv0", "")
	must(t, "hairpin", h.LinkSetHairpin(port, true))
	peer, err := h.LinkByName("shtc0")
	must(t, "find shtc0", err)
	must(t, "move shtc0", h.LinkSetNsFd(peer, ctrFd))
	eth := linkUp(t, c, "shtc0", ctrIP+"/24")
	must(t, "default route", c.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.ParseIP(gatewayIP)}))

	must(t, "add outside veth", h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "shto0"}, PeerName: "shto1"}))
	peer, err = h.LinkByName("shto1")
	must(t, "find shto1", err)
	must(t, "move shto1", h.LinkSetNsFd(peer, outFd))
	linkUp(t, h, "shto0", hostOutIP+"/24")
	oeth := linkUp(t, o, "shto1", outIP+"/24")
	_, ctrNet, _ := net.ParseCIDR("10.88.0.0/24")
	must(t, "route to containers", o.RouteAdd(&netlink.Route{LinkIndex: oeth.Attrs().Index, Dst: ctrNet, Gw: net.ParseIP(hostOutIP)}))

	sysctl(t, top.host, "net.ipv4.ip_forward", "1")
	sysctl(t, top.host, "net.ipv4.conf."+testBridge+".route_localnet", "1")
	return top
}

// serve listens on addr inside ns and answers every connection with
// "<name> saw <remote address>".
func serve(t *testing.T, ns, name, addr string) {
	t.Helper()
	var ln net.Listener
	must(t, "listen "+addr, testutil.InNetNS(ns, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}))
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s saw %s\n", name, c.RemoteAddr())
			c.Close()
		}
	}()
}

// dial connects to addr from inside ns and returns the first line the
// server sends.
func dial(ns, addr string, timeout time.Duration) (string, error) {
	var line string
	err := testutil.InNetNS(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		line, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	return strings.TrimSpace(line), err
}

func expectReply(t *testing.T, ns, from, addr, wantPrefix string) {
	t.Helper()
	got, err := dial(ns, addr, 2*time.Second)
	if err != nil {
		t.Errorf("dial %s from %s: %v", addr, from, err)
		return
	}
	if !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("dial %s from %s: reply %q, want %q...", addr, from, got, wantPrefix)
	}
}

func expectNoReply(t *testing.T, ns, from, addr string) {
	t.Helper()
	if got, err := dial(ns, addr, 300*time.Millisecond); err == nil {
		t.Errorf("dial %s from %s: got %q, want no connection", addr, from, got)
	}
}

func bridgeNetwork(internal bool) Network {
	return Network{Bridge: testBridge, Subnets: []netip.Prefix{pfx("10.88.0.0/24")}, Internal: internal, Masquerade: !internal, ICC: true}
}

func TestPublishedPortTraffic(t *testing.T) {
	top := newTopology(t)
	noNft(t)
	fw, err := New(Config{Table: testTable, NetNS: top.hostFd, Logger: testLogger(t)})
	must(t, "New", err)
	ctx := t.Context()
	serve(t, top.ctr, "ctr", ctrIP+":80")

	// Without rules: nothing listens on the host's 8080.
	must(t, "Apply", fw.Apply(ctx, State{Networks: []Network{bridgeNetwork(false)}}))
	expectNoReply(t, top.host, "host", "127.0.0.1:8080")
	// New connections routed straight to a container are dropped.
	expectNoReply(t, top.out, "outside", ctrIP+":80")

	port := Port{Owner: "ctr1", Proto: "tcp", HostPort: 8080, ContainerIP: addr(ctrIP), ContainerPort: 80, Bridge: testBridge}
	must(t, "AddPorts", fw.AddPorts(ctx, []Port{port}))
	// The host, through localhost (masqueraded to the bridge address)
	// and through one of its own addresses (kept as the source).
	expectReply(t, top.host, "host", "127.0.0.1:8080", "ctr saw "+gatewayIP+":")
	expectReply(t, top.host, "host", hostOutIP+":8080", "ctr saw "+hostOutIP+":")
	// From outside: DNATed, forwarded, not masqueraded.
	expectReply(t, top.out, "outside", hostOutIP+":8080", "ctr saw "+outIP+":")
	// Hairpin: the container reaching its own published port through
	// the gateway.
	expectReply(t, top.ctr, "container", gatewayIP+":8080", "ctr saw "+gatewayIP+":")
	// Still no direct way in.
	expectNoReply(t, top.out, "outside", ctrIP+":80")

	// A port on a specific host address only answers there.
	must(t, "RemovePorts", fw.RemovePorts(ctx, "ctr1"))
	expectNoReply(t, top.host, "host", "127.0.0.1:8080")
	port.HostIP = addr(hostOutIP)
	must(t, "AddPorts", fw.AddPorts(ctx, []Port{port}))
	expectReply(t, top.out, "outside", hostOutIP+":8080", "ctr saw "+outIP+":")
	expectNoReply(t, top.host, "host", "127.0.0.1:8080")

	must(t, "Flush", fw.Flush(ctx))
	expectNoReply(t, top.out, "outside", hostOutIP+":8080")
}

func TestInternalNetworkTraffic(t *testing.T) {
	top := newTopology(t)
	noNft(t)
	fw, err := New(Config{Table: testTable, NetNS: top.hostFd, Logger: testLogger(t)})
	must(t, "New", err)
	ctx := t.Context()
	serve(t, top.out, "out", outIP+":9000")
	serve(t, top.ctr, "ctr", ctrIP+":80")

	// Egress from a normal network is masqueraded: the outside sees the
	// host's address.
	must(t, "Apply", fw.Apply(ctx, State{Networks: []Network{bridgeNetwork(false)}}))
	expectReply(t, top.ctr, "container", outIP+":9000", "out saw "+hostOutIP+":")

	// Without masquerade the outside sees the container itself.
	noMasq := bridgeNetwork(false)
	noMasq.Masquerade = false
	must(t, "SetNetwork", fw.SetNetwork(ctx, noMasq))
	expectReply(t, top.ctr, "container", outIP+":9000", "out saw "+ctrIP+":")

	// Internal: nothing in or out, published port or not.
	must(t, "SetNetwork", fw.SetNetwork(ctx, bridgeNetwork(true)))
	must(t, "AddPorts", fw.AddPorts(ctx, []Port{{Owner: "ctr1", Proto: "tcp", HostPort: 8080, ContainerIP: addr(ctrIP), ContainerPort: 80, Bridge: testBridge}}))
	expectNoReply(t, top.ctr, "container", outIP+":9000")
	expectNoReply(t, top.out, "outside", hostOutIP+":8080")
	expectNoReply(t, top.out, "outside", ctrIP+":80")

	// And back.
	must(t, "RemoveNetwork", fw.RemoveNetwork(ctx, testBridge))
	must(t, "SetNetwork", fw.SetNetwork(ctx, bridgeNetwork(false)))
	expectReply(t, top.ctr, "container", outIP+":9000", "out saw "+hostOutIP+":")
	expectReply(t, top.out, "outside", hostOutIP+":8080", "ctr saw "+outIP+":")
}
