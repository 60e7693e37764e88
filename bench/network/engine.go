package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/shoal-dev/shoal/bench/internal/daemon"
	"github.com/shoal-dev/shoal/bench/internal/harness"
	"github.com/shoal-dev/shoal/bench/internal/netns"
	"github.com/shoal-dev/shoal/bench/internal/proc"
)

// engine is one container engine under test, driven by the docker CLI,
// running in a network namespace of its own.
type engine struct {
	*daemon.Engine
	ns *netns.NS

	// err is why the engine could not be prepared for the network
	// phases (nil if it was); failed says at which step.
	err    error
	failed string

	// What the preparation found, for the report.
	imageID  string
	targetIP string
	serverIP string
	netInfo  string // the user network's subnet and gateway
	ctrInfo  string // resolv.conf nameserver, eth0 address and MTU in a container
	nsInfo   string // sysctls, bridges and nftables of its network namespace
}

// inNetNS runs a command in one of the benchmark's network namespaces
// and returns its wall time and standard output.
func (b *bench) inNetNS(ctx context.Context, ns *netns.NS, argv ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.o.timeout)
	defer cancel()
	c, out := daemon.Command(ctx, daemon.ClientEnv(nil), nsenter(ns, argv...)...)
	d, err := daemon.Timed(c, out)
	return d, out.Stdout.String(), err
}

// newEngine makes the engine's directory and network namespace and
// registers it for the cleanup.
func (b *bench) newEngine(name string) (*engine, error) {
	d, err := daemon.New(b.tmp, name, b.o.docker, b.o.timeout)
	if err != nil {
		return nil, err
	}
	e := &engine{Engine: d}
	if e.ns, err = b.newNetNS(name); err != nil {
		return nil, err
	}
	b.engines[name] = e
	return e, nil
}

func (b *bench) cgroupParent(what string) string {
	return harness.CgroupParent(b.token, what)
}

// nsenter prefixes argv with `nsenter --net=FILE --`: nsenter enters the
// namespace and execs argv (no fork), so the daemon's pid is the one
// started.
func nsenter(ns *netns.NS, argv ...string) []string {
	return append([]string{"nsenter", "--net=" + ns.Path, "--"}, argv...)
}

func (b *bench) startShoal(ctx context.Context) (*engine, error) {
	e, err := b.newEngine("shoal")
	if err != nil {
		return nil, err
	}
	// A daemon that reads a daemon.json by default must not read the
	// host's.
	conf, err := e.ConfigFile()
	if err != nil {
		return nil, err
	}
	e.Argv = append(e.ShoalArgv(b.o.shoal, b.o.shoalLogLevel, b.cgroupParent("shoal")), "--config-file", conf)
	return e, e.Start(ctx, 30*time.Second, os.Environ(), nsenter(e.ns, e.Argv...)...)
}

func (b *bench) startDockerd(ctx context.Context) (*engine, error) {
	if err := daemon.CheckHostContainerd(); err != nil {
		return nil, err
	}
	// dockerd registers its bridge with a running firewalld over D-Bus,
	// which would change the host's firewall configuration.
	for _, p := range proc.List() {
		if p.Comm == "firewalld" {
			return nil, errors.New("firewalld is running: dockerd would register its bridge with the host's firewalld; refusing")
		}
	}
	e, err := b.newEngine("dockerd")
	if err != nil {
		return nil, err
	}
	// Its default bridge (docker0), iptables rules, ip_forward and the
	// embedded DNS's NAT rules are made in its own network namespace.
	if e.Argv, err = e.DockerdArgv(b.cgroupParent("dockerd")); err != nil {
		return nil, err
	}
	return e, e.Start(ctx, 60*time.Second, os.Environ(), nsenter(e.ns, e.Argv...)...)
}
