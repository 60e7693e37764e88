//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/shoal-dev/shoal/internal/testutil"
)

// Every daemon here runs in a network namespace of its own (startDaemon),
// so the bridges, veths and nftables rules it makes, and all the traffic
// the tests send, stay inside namespaces the test created.

const webCmd = `mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www`

// runWeb starts a busybox web server answering "hello-<hostname>".
func runWeb(d *daemon, name string, args ...string) {
	d.t.Helper()
	d.must(append(append([]string{"run", "-d", "--name", name, "--hostname", name}, args...), "bb", "sh", "-c", webCmd)...)
}

// fetchIn runs wget in a fresh container on network until it answers.
func fetchIn(d *daemon, network, url string) string {
	d.t.Helper()
	var out string
	var code int
	for i := 0; i < 30; i++ {
		// Debian's busybox wget crashes with -T: timeout bounds it, and
		// --init keeps wget from being pid 1, which ignores SIGTERM.
		out, code = d.docker("run", "--rm", "--init", "--network", network, "bb", "timeout", "5", "wget", "-q", "-O-", url)
		if code == 0 {
			return strings.TrimSpace(out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("wget %s on network %s: exit %d\n%s", url, network, code, out)
	return ""
}

// httpGet fetches url's path from addr inside the daemon's namespace.
func (d *daemon) httpGet(addr string) (string, error) {
	var body string
	err := d.inNetNS(func() error {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
		b, err := io.ReadAll(c)
		if err != nil {
			return err
		}
		_, after, ok := strings.Cut(string(b), "\r\n\r\n")
		if !ok {
			return fmt.Errorf("no HTTP answer: %q", b)
		}
		body = strings.TrimSpace(after)
		return nil
	})
	return body, err
}

// shoalLinks lists the links Shoal made in the daemon's namespace.
func (d *daemon) shoalLinks() []string {
	d.t.Helper()
	var out []string
	err := d.inNetNS(func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range links {
			name := l.Attrs().Name
			if strings.HasPrefix(name, "shv") || strings.HasPrefix(name, "shbr-") {
				out = append(out, name)
			}
		}
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

// nftRules counts the rules in each table of the daemon's namespace,
// read over netlink (no nft binary).
func (d *daemon) nftRules() map[string]int {
	d.t.Helper()
	out := map[string]int{}
	f, err := os.Open(d.netns)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		d.t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		d.t.Fatal(err)
	}
	for _, tb := range tables {
		chains, err := c.ListChains()
		if err != nil {
			d.t.Fatal(err)
		}
		n := 0
		for _, ch := range chains {
			if ch.Table.Name != tb.Name || ch.Table.Family != tb.Family {
				continue
			}
			rules, err := c.GetRules(tb, ch)
			if err != nil {
				d.t.Fatal(err)
			}
			n += len(rules)
		}
		out[fmt.Sprintf("%d/%s", tb.Family, tb.Name)] = n
	}
	return out
}

// netnsFiles lists the namespace files of container stacks.
func (d *daemon) netnsFiles() []string {
	ents, _ := os.ReadDir(filepath.Join(d.run, "netns"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func (d *daemon) assertNoNetworkLeaks(baseRules map[string]int) {
	d.t.Helper()
	if l := d.shoalLinks(); len(l) > 0 {
		d.t.Errorf("links left: %v", l)
	}
	if f := d.netnsFiles(); len(f) > 0 {
		d.t.Errorf("namespace files left: %v", f)
	}
	if got := d.nftRules(); fmt.Sprint(got) != fmt.Sprint(baseRules) {
		d.t.Errorf("nftables rules left: %v, want %v", got, baseRules)
	}
}

// TestNetworkBridge: user-defined networks resolve names and aliases
// inside their scope only, round-robin over an alias, keep addresses in
// their subnet; bad input is refused; nothing is left behind.
func TestNetworkBridge(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	base := d.nftRules()

	d.must("network", "create", "--subnet", "10.77.0.0/24", "--label", "team=a", "n1")
	d.must("network", "create", "n2")
	if out := d.must("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); !strings.Contains(out, "n1 bridge local") || !strings.Contains(out, "bridge bridge local") ||
		!strings.Contains(out, "host host local") || !strings.Contains(out, "none null local") {
		t.Errorf("network ls:\n%s", out)
	}
	if out := d.must("network", "ls", "--filter", "label=team=a", "-q"); len(strings.Fields(out)) != 1 {
		t.Errorf("network ls --filter label: %q", out)
	}

	runWeb(d, "web", "--network", "n1", "--network-alias", "svc")
	if got := fetchIn(d, "n1", "http://web/"); got != "hello-web" {
		t.Errorf("web by name: %q", got)
	}
	if got := fetchIn(d, "n1", "http://svc/"); got != "hello-web" {
		t.Errorf("web by alias: %q", got)
	}
	ip := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "web"))
	if a, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix("10.77.0.0/24").Contains(a) || a == netip.MustParseAddr("10.77.0.1") {
		t.Errorf("web's address %q is not a host address of 10.77.0.0/24", ip)
	}
	if gw := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n1.Gateway}}", "web")); gw != "10.77.0.1" {
		t.Errorf("gateway %q", gw)
	}
	if out := d.must("exec", "web", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf on a user network:\n%s", out)
	}
	if out := d.must("exec", "web", "cat", "/etc/hosts"); !strings.Contains(out, ip+"\tweb") {
		t.Errorf("/etc/hosts lacks %s web:\n%s", ip, out)
	}
	if out := d.must("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}", "n1"); !strings.Contains(out, "web "+ip+"/24") {
		t.Errorf("network inspect containers: %q", out)
	}

	// Another network does not see web.
	if out, code := d.docker("run", "--rm", "--network", "n2", "bb", "nslookup", "web"); code == 0 || strings.Contains(out, ip) {
		t.Errorf("web resolved from n2: exit %d\n%s", code, out)
	}
	if out, code := d.docker("run", "--rm", "--init", "--network", "n2", "bb", "timeout", "3", "wget", "-q", "-O-", "http://"+ip+"/"); code == 0 {
		t.Errorf("n2 reached web on n1 by address: %s", out)
	}

	// DNS round-robin over an alias with several containers.
	d.must("run", "-d", "--name", "p1", "--network", "n1", "--network-alias", "pool", "bb", "sleep", "1000")
	d.must("run", "-d", "--name", "p2", "--network", "n1", "--network-alias", "pool", "bb", "sleep", "1000")
	ip1 := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "p1"))
	ip2 := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "p2"))
	out := d.must("run", "--rm", "--network", "n1", "bb", "nslookup", "pool")
	if !strings.Contains(out, ip1) || !strings.Contains(out, ip2) {
		t.Errorf("nslookup pool lacks %s or %s:\n%s", ip1, ip2, out)
	}

	// Connect a running container to a second network: it resolves
	// names there too; disconnect takes it off.
	d.must("network", "connect", "--alias", "extra", "n2", "p1")
	if out := d.must("exec", "p1", "cat", "/proc/net/dev"); !strings.Contains(out, "eth1") {
		t.Errorf("no eth1 after connect:\n%s", out)
	}
	d.must("run", "-d", "--name", "other", "--network", "n2", "bb", "sleep", "1000")
	if out, code := d.docker("exec", "p1", "nslookup", "other"); code != 0 {
		t.Errorf("p1 cannot resolve other on n2 after connect: %s", out)
	}
	d.must("network", "disconnect", "n2", "p1")
	if out := d.must("exec", "p1", "cat", "/proc/net/dev"); strings.Contains(out, "eth1") {
		t.Errorf("eth1 still there after disconnect:\n%s", out)
	}

	// --network none has only lo.
	out = d.must("run", "--rm", "--network", "none", "bb", "cat", "/proc/net/dev")
	for _, line := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name != "lo" && !strings.Contains(name, "|") {
			t.Errorf("--network none has %s", name)
		}
	}

	// Bad input, nothing half-made.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "10.77.0.0/16", "n3"}, "overlaps"},
		{[]string{"network", "create", "n1"}, "already exists"},
		{[]string{"network", "create", "--subnet", "10.99.0.0/24", "--gateway", "10.98.0.1", "n4"}, "10.98.0.1"},
		{[]string{"run", "--rm", "--network", "n1", "--ip", "10.78.0.5", "bb", "true"}, "10.78.0.5"},
		{[]string{"run", "--rm", "--network", "n2", "--ip", "10.78.0.5", "bb", "true"}, "user configured subnets"},
		{[]string{"run", "--rm", "--network", "nosuch", "bb", "true"}, "network nosuch not found"},
		{[]string{"network", "rm", "n1"}, "active endpoints"},
		{[]string{"network", "rm", "bridge"}, "pre-defined network"},
	} {
		out, code := d.docker(c.args...)
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("docker %s: exit %d, want an error with %q:\n%s", strings.Join(c.args, " "), code, c.want, out)
		}
	}
	if out := d.must("network", "ls", "-q", "--filter", "name=n3"); strings.TrimSpace(out) != "" {
		t.Errorf("refused network n3 exists")
	}
	// A fixed address in the subnet is honoured.
	if out := d.must("run", "--rm", "--network", "n1", "--ip", "10.77.0.200", "bb", "ip", "-4", "addr", "show", "eth0"); !strings.Contains(out, "10.77.0.200/24") {
		t.Errorf("--ip 10.77.0.200:\n%s", out)
	}

	d.must("rm", "-f", "web", "p1", "p2", "other")
	if out, code := d.docker("network", "rm", "n1", "n2"); code != 0 {
		t.Fatalf("network rm n1 n2: %s\n%s\n%s", out, d.must("ps", "-a"), d.must("network", "inspect", "n2"))
	}
	d.assertNoNetworkLeaks(base)
	if out := d.must("network", "prune", "-f"); strings.Contains(out, "bridge") {
		t.Errorf("network prune removed a predefined network:\n%s", out)
	}
}

// TestNetworkPorts: published ports answer on the daemon host's
// 127.0.0.1 and from other containers (hairpin through the host), -P
// picks ephemeral ports, a taken port is refused, and ports and names
// survive kill -9 of the daemon.
func TestNetworkPorts(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	base := d.nftRules()

	runWeb(d, "web", "-p", "8080:80")
	if out := d.must("port", "web"); !strings.Contains(out, "80/tcp -> 0.0.0.0:8080") {
		t.Errorf("docker port web:\n%s", out)
	}
	var body string
	var err error
	for i := 0; i < 50; i++ {
		if body, err = d.httpGet("127.0.0.1:8080"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || body != "hello-web" {
		t.Fatalf("127.0.0.1:8080 on the host: %q %v", body, err)
	}
	// IPv6 too: the container has no IPv6 address, so [::]:8080 is the
	// daemon's proxy, as dockerd's docker-proxy.
	if out := d.must("port", "web"); !strings.Contains(out, "80/tcp -> [::]:8080") {
		t.Errorf("docker port web has no [::] binding:\n%s", out)
	}
	if body, err := d.httpGet("[::1]:8080"); err != nil || body != "hello-web" {
		t.Errorf("[::1]:8080 on the host: %q %v", body, err)
	}
	gw := strings.TrimSpace(d.must("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", "bridge"))
	if got := fetchIn(d, "bridge", "http://"+gw+":8080/"); got != "hello-web" {
		t.Errorf("from another container through %s:8080: %q", gw, got)
	}
	// The container reaches itself through its published port.
	if out, code := d.docker("exec", "web", "timeout", "5", "wget", "-q", "-O-", "http://"+gw+":8080/"); code != 0 || strings.TrimSpace(out) != "hello-web" {
		t.Errorf("hairpin from web itself: exit %d %q", code, out)
	}
	if out := d.must("ps", "--format", "{{.Ports}}", "--filter", "name=web"); !strings.Contains(out, "0.0.0.0:8080->80/tcp") {
		t.Errorf("docker ps ports: %q", out)
	}
	// The default bridge has no names, but legacy links write them into
	// /etc/hosts; container: shares web's stack.
	webIP := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "web"))
	if out, code := d.docker("run", "--rm", "bb", "nslookup", "web"); code == 0 && strings.Contains(out, webIP) {
		t.Errorf("the default bridge resolved a container name:\n%s", out)
	}
	if out := d.must("run", "--rm", "--link", "web:www", "bb", "cat", "/etc/hosts"); !strings.Contains(out, webIP+"\twww web") {
		t.Errorf("--link web:www: /etc/hosts lacks %s www web:\n%s", webIP, out)
	}
	if got := fetchIn(d, "container:web", "http://127.0.0.1/"); got != "hello-web" {
		t.Errorf("--network container:web: %q", got)
	}

	// The port is taken: refused, and the container stays created.
	out, code := d.docker("run", "-d", "--name", "web2", "-p", "8080:80", "bb", "sleep", "100")
	if code == 0 || !strings.Contains(out, "port is already allocated") {
		t.Errorf("second -p 8080: exit %d\n%s", code, out)
	}
	d.must("rm", "-f", "web2")
	// A host process holds a port: refused too.
	var hostLn net.Listener
	if err := d.inNetNS(func() error {
		var err error
		hostLn, err = net.Listen("tcp", "0.0.0.0:8090")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	out, code = d.docker("run", "-d", "--name", "web3", "-p", "8090:80", "bb", "sleep", "100")
	hostLn.Close()
	if code == 0 || !strings.Contains(out, "address already in use") {
		t.Errorf("-p on a port a host process has: exit %d\n%s", code, out)
	}
	d.must("rm", "-f", "web3")
	if _, code := d.docker("run", "--rm", "-p", "8082-8081:80", "bb", "true"); code == 0 {
		t.Errorf("an inverted port range was accepted")
	}

	// -P publishes EXPOSEd ports on ephemeral host ports.
	runWeb(d, "pub", "--expose", "80", "-P")
	out = d.must("port", "pub", "80/tcp")
	hostPort := ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "0.0.0.0:") {
			hostPort = strings.TrimPrefix(line, "0.0.0.0:")
		}
	}
	if hostPort == "" || hostPort == "0" {
		t.Fatalf("docker port pub 80/tcp: %q", out)
	}
	for i := 0; i < 50; i++ {
		if body, err = d.httpGet("127.0.0.1:" + hostPort); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || body != "hello-pub" {
		t.Errorf("-P port %s: %q %v", hostPort, body, err)
	}

	// A user network's container and names, then kill -9 of the daemon.
	d.must("network", "create", "n1")
	runWeb(d, "named", "--network", "n1", "-p", "8081:80")
	fetchIn(d, "n1", "http://named/")
	ip := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "named"))
	// pub dies while the daemon is down: at the restart its stack (veth,
	// namespace, rules, port) is reconciled away.
	pubPid := strings.TrimSpace(d.must("inspect", "-f", "{{.State.Pid}}", "pub"))
	linksBefore := len(d.shoalLinks())
	d.kill9()
	if out, err := exec.Command("kill", "-9", pubPid).CombinedOutput(); err != nil {
		t.Fatalf("kill pub: %v %s", err, out)
	}
	d.start()
	waitFor(t, "pub to be seen exited", 10*time.Second, func() bool {
		out, _ := d.docker("inspect", "-f", "{{.State.Status}}", "pub")
		return strings.TrimSpace(out) == "exited"
	})
	waitFor(t, "pub's veth to go", 10*time.Second, func() bool { return len(d.shoalLinks()) == linksBefore-1 })
	if body, err := d.httpGet("127.0.0.1:" + hostPort); err == nil {
		t.Errorf("pub's port %s still answers after it died: %q", hostPort, body)
	}
	if got := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n1.IPAddress}}", "named")); got != ip {
		t.Errorf("address after daemon restart: %q, was %q", got, ip)
	}
	for _, c := range []struct{ addr, want string }{{"127.0.0.1:8080", "hello-web"}, {"127.0.0.1:8081", "hello-named"}} {
		if body, err := d.httpGet(c.addr); err != nil || body != c.want {
			t.Errorf("%s after daemon restart: %q %v", c.addr, body, err)
		}
	}
	if out, code := d.docker("exec", "named", "nslookup", "named"); code != 0 || !strings.Contains(out, ip) {
		t.Errorf("embedded DNS after daemon restart: exit %d\n%s", code, out)
	}
	// Still held: the port is refused to others after the restart.
	if out, code := d.docker("run", "-d", "--name", "web4", "-p", "8080:80", "bb", "sleep", "100"); code == 0 || !strings.Contains(out, "already allocated") {
		t.Errorf("-p 8080 after restart: exit %d\n%s", code, out)
	}
	d.must("rm", "-f", "web4")

	// Stopping frees the port and the rules.
	d.must("rm", "-f", "web", "pub", "named")
	d.must("network", "rm", "n1")
	d.assertNoNetworkLeaks(base)
	if body, err := d.httpGet("127.0.0.1:8080"); err == nil {
		t.Errorf("8080 still answers after rm: %q", body)
	}
}

// outside is a network namespace standing for the world beyond the
// daemon's host: a veth links it to the daemon's namespace
// (192.0.2.1 there, 192.0.2.2 here); it runs a TCP service that says
// who connected and a DNS server.
type outside struct {
	ns string
}

func startOutside(t *testing.T, d *daemon) *outside {
	t.Helper()
	o := &outside{ns: testutil.NewNetNS(t)}
	dh, err := netns.GetFromPath(d.netns)
	if err != nil {
		t.Fatal(err)
	}
	defer dh.Close()
	oh, err := netns.GetFromPath(o.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer oh.Close()
	dn, err := netlink.NewHandleAt(dh)
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	on, err := netlink.NewHandleAt(oh)
	if err != nil {
		t.Fatal(err)
	}
	defer on.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "world0"}, PeerName: "world1", PeerNamespace: netlink.NsFd(oh)}
	if err := dn.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{dn, "world0", "192.0.2.1/24"}, {on, "world1", "192.0.2.2/24"}, {on, "world1", "192.0.2.3/24"}, {on, "lo", ""}} {
		l, err := x.h.LinkByName(x.name)
		if err != nil {
			t.Fatal(err)
		}
		if x.addr != "" {
			a, _ := netlink.ParseAddr(x.addr)
			if err := x.h.AddrAdd(l, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := x.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	// Who-am-I service on 192.0.2.2:9000, DNS servers on .2 and .3 that
	// answer outside.test with their own address.
	var ln net.Listener
	var pc, pc3 net.PacketConn
	if err := testutil.InNetNS(o.ns, func() error {
		var err error
		if ln, err = net.Listen("tcp", "192.0.2.2:9000"); err != nil {
			return err
		}
		if pc3, err = net.ListenPacket("udp", "192.0.2.3:53"); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp", "192.0.2.2:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close(); pc3.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			fmt.Fprintf(c, "you are %s\n", host)
			c.Close()
		}
	}()
	for _, x := range []struct {
		pc net.PacketConn
		ip string
	}{{pc, "192.0.2.2"}, {pc3, "192.0.2.3"}} {
		ip := x.ip
		srv := &dns.Server{PacketConn: x.pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			switch {
			case len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, "outside.test."):
				m.Rcode = dns.RcodeNameError
			case r.Question[0].Qtype == dns.TypeA:
				rr, _ := dns.NewRR("outside.test. 60 IN A " + ip)
				m.Answer = append(m.Answer, rr)
			}
			_ = w.WriteMsg(m)
		})}
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return o
}

// TestNetworkEgress: the default bridge and user networks reach the
// outside masqueraded (the outside sees the host's address); an
// --internal network has no way out; names the embedded DNS does not
// know are forwarded to the daemon's --dns server.
func TestNetworkEgress(t *testing.T) {
	d := startDaemon(t, "--dns", "192.0.2.2")
	startOutside(t, d)
	d.busyboxImage("bb")
	base := d.nftRules()

	for _, network := range []string{"bridge", "out"} {
		if network != "bridge" {
			d.must("network", "create", network)
		}
		out, code := d.docker("run", "--rm", "--network", network, "bb", "sh", "-c", "nc 192.0.2.2 9000 </dev/null")
		if code != 0 || strings.TrimSpace(out) != "you are 192.0.2.1" {
			t.Errorf("egress from %s: exit %d %q (want masqueraded to 192.0.2.1)", network, code, out)
		}
	}
	d.must("network", "create", "--internal", "in")
	if out, code := d.docker("run", "--rm", "--network", "in", "bb", "sh", "-c", "nc -w 2 192.0.2.2 9000 </dev/null"); code == 0 && strings.Contains(out, "you are") {
		t.Errorf("an --internal network reached the outside: %q", out)
	}
	// Inside the internal network containers still talk to each other.
	runWeb(d, "iweb", "--network", "in")
	if got := fetchIn(d, "in", "http://iweb/"); got != "hello-iweb" {
		t.Errorf("within an internal network: %q", got)
	}
	// Forwarded names: the embedded DNS asks the --dns server.
	if out, code := d.docker("run", "--rm", "--network", "out", "bb", "nslookup", "outside.test"); code != 0 || !strings.Contains(out, "192.0.2.2") {
		t.Errorf("forwarded lookup: exit %d\n%s", code, out)
	}
	// A container's own --dns on a user network: the embedded DNS
	// forwards to it (resolv.conf still names 127.0.0.11).
	if out, code := d.docker("run", "--rm", "--network", "out", "--dns", "192.0.2.3", "bb", "sh", "-c", "cat /etc/resolv.conf; nslookup outside.test"); code != 0 ||
		!strings.Contains(out, "Address: 192.0.2.3") || !strings.Contains(out, "nameserver 127.0.0.11") {
		t.Errorf("--dns on a user network: exit %d\n%s", code, out)
	}
	// The default bridge has no embedded DNS: resolv.conf names --dns.
	if out := d.must("run", "--rm", "bb", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 192.0.2.2") || strings.Contains(out, "127.0.0.11") {
		t.Errorf("default bridge resolv.conf:\n%s", out)
	}
	d.must("rm", "-f", "iweb")
	d.must("network", "rm", "out", "in")
	d.assertNoNetworkLeaks(base)
}

// TestNetworkIPv6: a dual-stack network gives containers IPv6 addresses,
// the embedded DNS answers AAAA, and published ports answer on IPv6.
func TestNetworkIPv6(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	base := d.nftRules()
	d.must("network", "create", "--ipv6", "--subnet", "fd00:77::/64", "n6")
	runWeb(d, "web6", "--network", "n6", "-p", "8086:80")
	v6 := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n6.GlobalIPv6Address}}", "web6"))
	if a, err := netip.ParseAddr(v6); err != nil || !netip.MustParsePrefix("fd00:77::/64").Contains(a) {
		t.Fatalf("IPv6 address %q", v6)
	}
	if v4 := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.n6.IPAddress}}", "web6")); v4 == "" {
		t.Errorf("no IPv4 address beside IPv6")
	}
	out := d.must("run", "--rm", "--network", "n6", "bb", "nslookup", "-type=AAAA", "web6")
	if !strings.Contains(out, v6) {
		t.Errorf("AAAA web6:\n%s", out)
	}
	if got := fetchIn(d, "n6", "http://["+v6+"]/"); got != "hello-web6" {
		t.Errorf("over IPv6 inside the network: %q", got)
	}
	if out := d.must("port", "web6"); !strings.Contains(out, "[::]:8086") {
		t.Errorf("docker port has no IPv6 binding:\n%s", out)
	}
	var body string
	var err error
	for i := 0; i < 50; i++ {
		if body, err = d.httpGet("[fd00:77::1]:8086"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || body != "hello-web6" {
		t.Errorf("published port over IPv6: %q %v", body, err)
	}
	// ::1 cannot be DNATed: the userland proxy answers it.
	if body, err := d.httpGet("[::1]:8086"); err != nil || body != "hello-web6" {
		t.Errorf("published port on [::1]: %q %v", body, err)
	}
	if body, err := d.httpGet("127.0.0.1:8086"); err != nil || body != "hello-web6" {
		t.Errorf("published port on 127.0.0.1 of a dual-stack container: %q %v", body, err)
	}
	d.must("rm", "-f", "web6")
	d.must("network", "rm", "n6")
	d.assertNoNetworkLeaks(base)
}

// TestNetworkNoNftBinary: the daemon programs nftables over netlink: a
// daemon whose PATH has no nft publishes ports all the same.
func TestNetworkNoNftBinary(t *testing.T) {
	bin := t.TempDir()
	for _, p := range []string{"nsenter"} {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Skip(err)
		}
		if err := os.Symlink(path, filepath.Join(bin, p)); err != nil {
			t.Fatal(err)
		}
	}
	d := startDaemonEnv(t, []string{"PATH=" + bin})
	d.busyboxImage("bb")
	base := d.nftRules()
	runWeb(d, "web", "-p", "8080:80")
	var body string
	var err error
	for i := 0; i < 50; i++ {
		if body, err = d.httpGet("127.0.0.1:8080"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || body != "hello-web" {
		t.Errorf("published port from a daemon without nft on PATH: %q %v", body, err)
	}
	sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"nft"`) {
			t.Errorf("daemon log mentions nft: %s", sc.Text())
		}
	}
	d.must("rm", "-f", "web")
	d.assertNoNetworkLeaks(base)
}

// hostNetSnapshot lists the links and nftables tables of the test
// process's (the host's) network namespace.
func hostNetSnapshot() string {
	var b strings.Builder
	links, err := netlink.LinkList()
	if err != nil {
		return "links: " + err.Error()
	}
	for _, l := range links {
		b.WriteString(l.Attrs().Name + " ")
	}
	c, err := nftables.New()
	if err != nil {
		return b.String() + "nftables: " + err.Error()
	}
	tables, err := c.ListTables()
	if err != nil {
		return b.String() + "nftables: " + err.Error()
	}
	b.WriteString("| tables: ")
	for _, t := range tables {
		fmt.Fprintf(&b, "%d/%s ", t.Family, t.Name)
	}
	return b.String()
}

// TestNetworkOptions: --ip-range, --gateway, bridge name and MTU options,
// enable_icc=false, connect --ip, a UDP port, a host port range, and an
// option Shoal does not know refused.
func TestNetworkOptions(t *testing.T) {
	d := startDaemon(t)
	d.busyboxImage("bb")
	base := d.nftRules()
	d.must("network", "create", "--subnet", "10.88.0.0/16", "--ip-range", "10.88.5.0/24", "--gateway", "10.88.0.254",
		"-o", "com.docker.network.bridge.name=shbr-custom", "-o", "com.docker.network.driver.mtu=1400", "o1")
	d.must("run", "-d", "--name", "c1", "--network", "o1", "bb", "sleep", "1000")
	ip := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.o1.IPAddress}} {{.NetworkSettings.Networks.o1.Gateway}}", "c1"))
	if f := strings.Fields(ip); len(f) != 2 || !strings.HasPrefix(f[0], "10.88.5.") || f[1] != "10.88.0.254" {
		t.Errorf("address and gateway on o1: %q, want 10.88.5.x and 10.88.0.254", ip)
	}
	if out := d.must("exec", "c1", "cat", "/sys/class/net/eth0/mtu"); strings.TrimSpace(out) != "1400" {
		t.Errorf("MTU %q, want 1400", out)
	}
	if l := d.shoalLinks(); !slices.Contains(l, "shbr-custom") {
		t.Errorf("no bridge shbr-custom among %v", l)
	}
	// connect --ip on a running container of the default bridge.
	d.must("run", "-d", "--name", "c2", "bb", "sleep", "1000")
	d.must("network", "connect", "--ip", "10.88.5.77", "o1", "c2")
	if out := d.must("inspect", "-f", "{{.NetworkSettings.Networks.o1.IPAddress}}", "c2"); strings.TrimSpace(out) != "10.88.5.77" {
		t.Errorf("connect --ip: %q", out)
	}
	if out, code := d.docker("exec", "c1", "ping", "-c", "1", "-W", "2", "10.88.5.77"); code != 0 {
		t.Errorf("c1 cannot reach c2 on o1: %s", out)
	}

	// enable_icc=false: containers on the network do not reach each other.
	d.must("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "noicc")
	runWeb(d, "a1", "--network", "noicc")
	a1 := strings.TrimSpace(d.must("inspect", "-f", "{{.NetworkSettings.Networks.noicc.IPAddress}}", "a1"))
	if out, code := d.docker("run", "--rm", "--init", "--network", "noicc", "bb", "timeout", "3", "wget", "-q", "-O-", "http://"+a1+"/"); code == 0 {
		t.Errorf("enable_icc=false: reached a1: %s", out)
	}

	// A UDP port (busybox's nc has no UDP: a small static receiver is
	// copied in with docker cp), and a host port range.
	d.must("run", "-d", "--name", "udp1", "-p", "5353:5000/udp", "bb", "sh", "-c", "while [ ! -x /bin/udprecv ]; do sleep 0.1; done; exec /bin/udprecv")
	d.must("cp", buildUDPRecv(t), "udp1:/bin/udprecv")
	waitFor(t, "the UDP port to deliver", 10*time.Second, func() bool {
		_ = d.inNetNS(func() error {
			c, err := net.Dial("udp", "127.0.0.1:5353")
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("ping-udp\n"))
			return err
		})
		out, _ := d.docker("logs", "udp1")
		return strings.Contains(out, "ping-udp")
	})
	runWeb(d, "ranged", "-p", "9100-9102:80")
	out := d.must("port", "ranged", "80/tcp")
	if !strings.Contains(out, "0.0.0.0:910") {
		t.Errorf("port in 9100-9102: %q", out)
	}

	if out, code := d.docker("network", "create", "-o", "com.docker.network.bridge.foo=1", "bad"); code == 0 || !strings.Contains(out, "not supported") {
		t.Errorf("unknown driver option: exit %d %q", code, out)
	}
	d.must("rm", "-f", "c1", "c2", "a1", "udp1", "ranged")
	d.must("network", "rm", "o1", "noicc")
	d.assertNoNetworkLeaks(base)
}

// buildUDPRecv builds a static program that prints each UDP datagram it
// receives on port 5000.
func buildUDPRecv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := `package main

import (
	"fmt"
	"net"
)

func main() {
	pc, err := net.ListenPacket("udp", ":5000")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 2048)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s", buf[:n])
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "udprecv")
	cmd := exec.Command("go", "build", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build udprecv: %v\n%s", err, out)
	}
	return bin
}

// TestNetworkForeignTable: a daemon that made no rules never deletes an
// nftables table of the same name it did not make (another daemon's).
func TestNetworkForeignTable(t *testing.T) {
	d := startDaemon(t, "--bridge=none")
	d.stop()
	f, err := os.Open(d.netns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "shoal"})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	d.start()
	d.stop()
	if got := d.nftRules(); len(got) != 1 {
		t.Errorf("tables after a --bridge=none daemon ran: %v, want the foreign one kept", got)
	}
}
