package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	shoalnet "github.com/shoal-dev/shoal/internal/network"
)

type hostsFiles struct{ hostname, hosts, resolv string }

const defaultHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// writeHostsFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf, as Docker does: sb is the container's network stack
// when it is on bridge networks (its addresses and links go into
// /etc/hosts; on user-defined networks resolv.conf names the embedded
// DNS server).
func writeHostsFiles(dir, hostname string, rec *record, dns []string, sb *shoalnet.Sandbox) (hostsFiles, error) {
	f := hostsFiles{
		hostname: filepath.Join(dir, "hostname"),
		hosts:    filepath.Join(dir, "hosts"),
		resolv:   filepath.Join(dir, "resolv.conf"),
	}
	hc := rec.HostConfig
	var hosts bytes.Buffer
	if hc.NetworkMode.IsHost() {
		if data, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				hosts.WriteByte('\n')
			}
		} else {
			hosts.WriteString(defaultHosts)
		}
	} else {
		hosts.WriteString(defaultHosts)
	}
	for _, h := range hc.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			// name=ip is the newer form.
			name, ip, ok = strings.Cut(h, "=")
		}
		if !ok || name == "" {
			return f, fmt.Errorf("invalid extra host %q", h)
		}
		ip = strings.Trim(ip, "[]")
		if _, err := netip.ParseAddr(ip); err != nil {
			return f, fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
		fmt.Fprintf(&hosts, "%s\t%s\n", ip, name)
	}
	var resolv []byte
	var err error
	if sb != nil {
		for _, l := range sb.Hosts {
			hosts.WriteString(l + "\n")
		}
		for _, ep := range sb.Endpoints {
			for _, a := range []netip.Prefix{ep.IPv4, ep.IPv6} {
				if a.IsValid() {
					fmt.Fprintf(&hosts, "%s\t%s\n", a.Addr(), hostname)
				}
			}
		}
	}
	if sb != nil && sb.UsesEmbeddedDNS() {
		resolv, err = embeddedResolvConf(hc.DNSSearch, hc.DNSOptions)
	} else {
		resolv, err = resolvConf(hc.NetworkMode.IsHost(), append(append([]string{}, dns...), addrs(hc.DNS)...), hc.DNSSearch, hc.DNSOptions)
	}
	if err != nil {
		return f, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.hostname, []byte(hostname + "\n")}, {f.hosts, hosts.Bytes()}, {f.resolv, resolv}} {
		if err := writeFileAtomic(w.path, w.data, 0o644); err != nil {
			return f, err
		}
	}
	return f, nil
}

func addrs(in []netip.Addr) []string {
	out := make([]string, 0, len(in))
	for _, a := range in {
		out = append(out, a.String())
	}
	return out
}

// resolvConf is the host's resolv.conf with the user's --dns,
// --dns-search and --dns-option applied. Outside the host's network a
// loopback nameserver cannot be reached, so it is dropped.
func resolvConf(hostNet bool, dns, search, opts []string) ([]byte, error) {
	var servers, searches, options []string
	if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			switch fields[0] {
			case "nameserver":
				if a, err := netip.ParseAddr(fields[1]); err == nil && (hostNet || !a.IsLoopback()) {
					servers = append(servers, fields[1])
				}
			case "search":
				searches = fields[1:]
			case "options":
				options = append(options, fields[1:]...)
			}
		}
	}
	if len(dns) > 0 {
		servers = dns
	}
	if len(search) > 0 {
		searches = search
	}
	if len(opts) > 0 {
		options = opts
	}
	var b bytes.Buffer
	if len(searches) > 0 && !(len(searches) == 1 && searches[0] == ".") {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes(), nil
}

// embeddedResolvConf is resolv.conf for a container on user-defined
// networks: the embedded DNS server, the host's search domains (or the
// user's), and ndots:0 as dockerd writes it.
func embeddedResolvConf(search, opts []string) ([]byte, error) {
	host, err := resolvConf(true, nil, search, opts)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("nameserver 127.0.0.11\n")
	hasOpts := false
	sc := bufio.NewScanner(bytes.NewReader(host))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "search "):
			b.WriteString(line + "\n")
		case strings.HasPrefix(line, "options "):
			hasOpts = true
			b.WriteString(line + "\n")
		}
	}
	if !hasOpts {
		b.WriteString("options ndots:0\n")
	}
	return b.Bytes(), nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
