package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/netns"

	"github.com/shoal-dev/shoal/bench/internal/cgroup"
	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/dnsload"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/report"
)

// Names the benchmark gives things in every engine.
const (
	userNet    = "shoal-bench-net" // the user-defined bridge network
	targetName = "target"          // the container whose name is looked up
	serverName = "iperf-server"    // the iperf3 server container
	iperfPort  = "5201"
)

// loopbackPath names the host-loopback baseline of the throughput phase.
const loopbackPath = "loopback"

// hybridNote ends the report's description of a hybrid cgroup layout.
const hybridNote = "in the benchmark's private mount namespace (Debian's crun 1.8.1 refuses the hybrid layout), so every engine and runtime sees cgroup v1 only"

type bench struct {
	o      *options
	tmp    string
	token  string
	hybrid string

	rootfs       string
	imageTar     string
	imageID      string // the config digest of the archive
	iperfLibs    []string
	iperfVersion string

	engines map[string]*engine
	order   []string // engines in -engines order, as started
	netns   []*netns.NS
	lo      *netns.NS // the loopback baseline's namespace

	loadStart string // load average when the benchmark started
	busy      bool   // a phase ran with a load average above the CPU count
	res       results
}

type results struct {
	dns     map[string][]*dnsRound // per engine, one per round
	dnsErr  map[string]error
	dnsLoad [2]string

	tput     map[string][]*iperfRun // per engine and loopbackPath
	tputErr  map[string]error
	tputLoad [2]string

	// setup[engine][mode]: wall times of `docker run --rm --network mode`.
	setup     map[string]map[string][]time.Duration
	setupErr  map[string]map[string]error
	setupLoad [2]string
	netCreate map[string][]time.Duration
	netRm     map[string][]time.Duration
	netErr    map[string]error
}

// dnsRound is one round of the DNS phase on one engine: a run with one
// query in flight and one with -dns-c.
type dnsRound struct {
	lat, qps *dnsResult
	load     string
}

// dnsResult is what dnsload prints (see dnsload/main.go).
type dnsResult = dnsload.Result

// iperfRun is one iperf3 client run.
type iperfRun struct {
	round   int
	bps     float64 // end.sum_received.bits_per_second
	retrans int     // end.sum_sent.retransmits
	load    string
}

func (b *bench) Run(ctx context.Context) error {
	b.loadStart = report.LoadAvg()
	var err error
	if b.hybrid, err = cgroup.HideUnified(hybridNote); err != nil {
		return err
	}
	if err := b.buildTools(ctx); err != nil {
		return err
	}
	harness.Logf("building the image")
	if err := b.makeImage(ctx); err != nil {
		return err
	}
	if b.lo, err = b.newNetNS(loopbackPath); err != nil {
		return err
	}
	for _, name := range b.o.engines {
		harness.Logf("starting %s", name)
		var e *engine
		switch name {
		case "shoal":
			e, err = b.startShoal(ctx)
		case "dockerd":
			e, err = b.startDockerd(ctx)
		}
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		b.order = append(b.order, name)
		b.prepare(ctx, e)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.printConditions(ctx)

	if b.o.phases["dns"] {
		b.dns(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.printDNS()
	}
	if b.o.phases["throughput"] {
		if err := b.throughput(ctx); err != nil {
			return err
		}
		b.printThroughput()
	}
	if b.o.phases["setup"] {
		b.setup(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.printSetup()
	}
	b.printSummary()
	return nil
}

// prepare loads the image into e, creates the user-defined network and
// starts the target and iperf3 server containers on it. A failure is
// recorded in e.err (and reported), not returned: the other engines are
// still measured.
func (b *bench) prepare(ctx context.Context, e *engine) {
	fail := func(step string, err error) {
		e.failed, e.err = step, err
		harness.Logf("%s: %s failed: %v", e.Name, step, err)
	}
	if _, _, err := e.Docker(ctx, "load", "-i", b.imageTar); err != nil {
		fail("docker load", err)
		return
	}
	_, id, err := e.Docker(ctx, "image", "inspect", "--format", "{{.Id}}", image)
	if err != nil {
		fail("docker image inspect", err)
		return
	}
	e.imageID = strings.TrimSpace(id)
	if _, out, err := e.Docker(ctx, "run", "--rm", "--network", "none", image, "sh", "-c", "echo ok"); err != nil || strings.TrimSpace(out) != "ok" {
		fail("first container (--network none)", fmt.Errorf("output %q: %v", out, err))
		return
	}
	if _, _, err := e.Docker(ctx, "network", "create", userNet); err != nil {
		fail("docker network create "+userNet, err)
		return
	}
	if _, out, err := e.Docker(ctx, "network", "inspect", "--format",
		"driver {{.Driver}}{{range .IPAM.Config}}, subnet {{.Subnet}} gateway {{.Gateway}}{{end}}", userNet); err == nil {
		e.netInfo = strings.TrimSpace(out)
	}
	for _, c := range [][]string{
		{"--name", targetName, "--network", userNet, image, "sleep", "1000000"},
		{"--name", serverName, "--network", userNet, image, "iperf3", "-s", "-p", iperfPort},
	} {
		if _, _, err := e.Docker(ctx, append([]string{"run", "-d"}, c...)...); err != nil {
			fail("docker run -d --name "+c[1], err)
			return
		}
	}
	ip := func(name string) (string, error) {
		_, out, err := e.Docker(ctx, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name)
		if err != nil {
			return "", err
		}
		f := strings.Fields(out)
		if len(f) == 0 {
			return "", fmt.Errorf("%s has no IP address on %s (docker inspect: %q)", name, userNet, out)
		}
		return f[0], nil
	}
	if e.targetIP, err = ip(targetName); err != nil {
		fail("address of "+targetName, err)
		return
	}
	if e.serverIP, err = ip(serverName); err != nil {
		fail("address of "+serverName, err)
		return
	}
	_, out, err := e.Docker(ctx, "run", "--rm", "--network", userNet, image, "sh", "-c",
		"grep '^nameserver' /etc/resolv.conf | tr '\\n' ' '; ip -o -4 addr show eth0 | awk '{print $2, $4}' | tr '\\n' ' '; echo mtu $(cat /sys/class/net/eth0/mtu)")
	if err != nil {
		fail("a container on "+userNet, err)
		return
	}
	e.ctrInfo = strings.TrimSpace(out)
	e.nsInfo = b.nsInfo(ctx, e.ns)
}

// nsInfo describes what an engine made in its network namespace: the
// forwarding and bridge-netfilter sysctls, bridges and nftables tables
// (iptables-nft's included). Read-only.
func (b *bench) nsInfo(ctx context.Context, ns *netns.NS) string {
	var parts []string
	_, out, err := b.inNetNS(ctx, ns, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables")
	if f := strings.Fields(out); err == nil && len(f) == 2 {
		parts = append(parts, "ip_forward "+f[0]+", bridge-nf-call-iptables "+f[1])
	}
	if _, out, err := b.inNetNS(ctx, ns, "ip", "-br", "link", "show", "type", "bridge"); err == nil {
		var br []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				br = append(br, f[0])
			}
		}
		parts = append(parts, "bridges "+strings.Join(br, " "))
	}
	if _, out, err := b.inNetNS(ctx, ns, "nft", "list", "tables"); err == nil {
		var tables []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l = strings.TrimSpace(strings.TrimPrefix(l, "table ")); l != "" {
				tables = append(tables, l)
			}
		}
		t := strings.Join(tables, ", ")
		if t == "" {
			t = "none"
		}
		_, rules, _ := b.inNetNS(ctx, ns, "nft", "-a", "list", "ruleset")
		parts = append(parts, fmt.Sprintf("nftables tables %s (%d rules)", t, strings.Count(rules, "# handle")-countChainsAndTables(rules)))
	}
	return strings.Join(parts, "; ")
}

// countChainsAndTables counts the lines of `nft -a list ruleset` that
// carry a handle but are not rules.
func countChainsAndTables(ruleset string) int {
	n := 0
	for _, l := range strings.Split(ruleset, "\n") {
		l = strings.TrimSpace(l)
		if strings.Contains(l, "# handle") && (strings.HasPrefix(l, "table ") || strings.HasPrefix(l, "chain ") || strings.HasPrefix(l, "set ") || strings.HasPrefix(l, "map ")) {
			n++
		}
	}
	return n
}

// ready lists the engines prepared without error, in -engines order.
func (b *bench) ready() []string {
	var names []string
	for _, n := range b.order {
		if b.engines[n].err == nil {
			names = append(names, n)
		}
	}
	return names
}

// rotated returns names starting at round % len(names).
func rotated(names []string, round int) []string {
	if len(names) == 0 {
		return nil
	}
	k := round % len(names)
	return append(append([]string{}, names[k:]...), names[:k]...)
}

// dns runs dnsload against each engine's embedded DNS server: per round
// and engine, one run with one query in flight and one with -dns-c.
func (b *bench) dns(ctx context.Context) {
	b.res.dns = map[string][]*dnsRound{}
	b.res.dnsErr = map[string]error{}
	b.res.dnsLoad[0] = report.LoadAvg()
	for r := 0; r < b.o.rounds; r++ {
		for _, name := range rotated(b.ready(), r) {
			if b.res.dnsErr[name] != nil || ctx.Err() != nil {
				continue
			}
			e := b.engines[name]
			harness.Logf("dns: round %d/%d, %s", r+1, b.o.rounds, name)
			round := &dnsRound{}
			var err error
			if round.lat, err = b.dnsload(ctx, e, 1); err == nil {
				round.qps, err = b.dnsload(ctx, e, b.o.dnsConc)
			}
			if err != nil {
				b.res.dnsErr[name] = err
				harness.Logf("dns: %s: %v", name, err)
				continue
			}
			round.load = report.LoadAvg()
			b.res.dns[name] = append(b.res.dns[name], round)
		}
	}
	b.res.dnsLoad[1] = report.LoadAvg()
}

func (b *bench) dnsload(ctx context.Context, e *engine, conc int) (*dnsResult, error) {
	_, out, err := e.Docker(ctx, "run", "--rm", "--network", userNet, image, dnsloadInImage,
		"-name", targetName, "-n", strconv.Itoa(b.o.dnsN), "-c", strconv.Itoa(conc), "-warmup", strconv.Itoa(b.o.dnsWarmup))
	if err != nil {
		return nil, err
	}
	var res dnsResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		return nil, fmt.Errorf("dnsload output %q: %w", report.Tail(out, 5), err)
	}
	if res.Errors >= res.Count {
		return nil, fmt.Errorf("every query of %s failed (%d, %d timeouts): %s", res.Name, res.Errors, res.Timeouts, res.FirstError)
	}
	return &res, nil
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// iperfReport is the part of `iperf3 -J` the benchmark reads.
type iperfReport struct {
	End struct {
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
		SumSent struct {
			Retransmits int `json:"retransmits"`
		} `json:"sum_sent"`
	} `json:"end"`
	Error string `json:"error"`
}

// throughput runs the iperf3 client against the server container of each
// engine and against an iperf3 server on 127.0.0.1 in the loopback
// namespace, paths interleaved, order rotated each round.
func (b *bench) throughput(ctx context.Context) error {
	b.res.tput = map[string][]*iperfRun{}
	b.res.tputErr = map[string]error{}
	srv, err := daemon.Spawn(filepath.Join(b.tmp, "iperf-loopback.log"), daemon.ClientEnv(nil),
		nsenter(b.lo, iperfPath, "-s", "-B", "127.0.0.1", "-p", iperfPort)...)
	if err != nil {
		return fmt.Errorf("loopback iperf3 server: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-srv.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}()
	paths := append([]string{loopbackPath}, b.ready()...)
	// Warm-up, which also waits for each server to listen.
	for _, p := range paths {
		var err error
		for try := 0; try < 20; try++ {
			if _, err = b.iperf(ctx, p, time.Second); err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			b.res.tputErr[p] = err
			harness.Logf("throughput: %s: %v", p, err)
		}
	}
	b.res.tputLoad[0] = report.LoadAvg()
	for r := 0; r < b.o.iperfRounds; r++ {
		for _, p := range rotated(paths, r) {
			if b.res.tputErr[p] != nil || ctx.Err() != nil {
				continue
			}
			harness.Logf("throughput: round %d/%d, %s", r+1, b.o.iperfRounds, p)
			run, err := b.iperf(ctx, p, b.o.iperfTime)
			if err != nil {
				b.res.tputErr[p] = err
				harness.Logf("throughput: %s: %v", p, err)
				continue
			}
			run.round = r
			b.res.tput[p] = append(b.res.tput[p], run)
		}
	}
	b.res.tputLoad[1] = report.LoadAvg()
	return ctx.Err()
}

// iperf runs one iperf3 client for d on path (an engine: a client
// container to the server container's address; loopbackPath: the host's
// iperf3 to 127.0.0.1 in the loopback namespace).
func (b *bench) iperf(ctx context.Context, path string, d time.Duration) (*iperfRun, error) {
	args := []string{"-p", iperfPort, "-t", strconv.Itoa(int(d / time.Second)), "-P", strconv.Itoa(b.o.iperfStreams), "-J"}
	var out string
	var err error
	if path == loopbackPath {
		_, out, err = b.inNetNS(ctx, b.lo, append([]string{iperfPath, "-c", "127.0.0.1"}, args...)...)
	} else {
		e := b.engines[path]
		_, out, err = e.Docker(ctx, append([]string{"run", "--rm", "--network", userNet, image, iperfPath, "-c", e.serverIP}, args...)...)
	}
	if err != nil {
		return nil, err
	}
	var rep iperfReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return nil, fmt.Errorf("iperf3 -J output %q: %w", report.Tail(out, 5), err)
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("iperf3: %s", rep.Error)
	}
	if rep.End.SumReceived.BitsPerSecond <= 0 {
		return nil, errors.New("iperf3: no end.sum_received.bits_per_second")
	}
	return &iperfRun{bps: rep.End.SumReceived.BitsPerSecond, retrans: rep.End.SumSent.Retransmits, load: report.LoadAvg()}, nil
}

// setupModes are the --network values of the setup phase: none first,
// the reference.
var setupModes = []string{"none", "bridge", userNet}

// setup times `docker run --rm --network MODE IMAGE true` for every mode,
// engines and modes round-robin, then `docker network create` and `rm`.
func (b *bench) setup(ctx context.Context) {
	b.res.setup = map[string]map[string][]time.Duration{}
	b.res.setupErr = map[string]map[string]error{}
	b.res.netCreate = map[string][]time.Duration{}
	b.res.netRm = map[string][]time.Duration{}
	b.res.netErr = map[string]error{}
	names := b.ready()
	for _, n := range names {
		b.res.setup[n] = map[string][]time.Duration{}
		b.res.setupErr[n] = map[string]error{}
	}
	b.res.setupLoad[0] = report.LoadAvg()
	for i := -b.o.setupWarmup; i < b.o.setupN && ctx.Err() == nil; i++ {
		if i == 0 || (i > 0 && i%5 == 0) {
			harness.Logf("setup: docker run --rm, run %d/%d", i+1, b.o.setupN)
		}
		for _, n := range rotated(names, i+b.o.setupWarmup) {
			e := b.engines[n]
			for _, m := range rotated(setupModes, i+b.o.setupWarmup) {
				if b.res.setupErr[n][m] != nil || ctx.Err() != nil {
					continue
				}
				d, _, err := e.Docker(ctx, "run", "--rm", "--network", m, image, "true")
				if err != nil {
					b.res.setupErr[n][m] = err
					harness.Logf("setup: %s --network %s: %v", n, m, err)
					continue
				}
				if i >= 0 {
					b.res.setup[n][m] = append(b.res.setup[n][m], d)
				}
			}
		}
	}
	harness.Logf("setup: docker network create/rm × %d", b.o.netN)
	for i := -1; i < b.o.netN && ctx.Err() == nil; i++ {
		for _, n := range rotated(names, i+1) {
			if b.res.netErr[n] != nil {
				continue
			}
			e := b.engines[n]
			net := fmt.Sprintf("shoal-bench-tmp%d", i+1)
			dc, _, err := e.Docker(ctx, "network", "create", net)
			if err != nil {
				b.res.netErr[n] = err
				continue
			}
			dr, _, err := e.Docker(ctx, "network", "rm", net)
			if err != nil {
				b.res.netErr[n] = err
				continue
			}
			if i >= 0 {
				b.res.netCreate[n] = append(b.res.netCreate[n], dc)
				b.res.netRm[n] = append(b.res.netRm[n], dr)
			}
		}
	}
	b.res.setupLoad[1] = report.LoadAvg()
}

// Cleanup stops every engine (removing its containers), kills what is
// left below the benchmark, removes its cgroups, network namespaces and
// mounts, and reports what it could not.
func (b *bench) Cleanup() error {
	var engines []*daemon.Engine
	for _, name := range b.o.engines {
		if e, ok := b.engines[name]; ok {
			engines = append(engines, e.Engine)
		}
	}
	return daemon.Teardown(engines, b.netns, b.tmp, b.token)
}
