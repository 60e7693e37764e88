package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

func TestParsePortSpec(t *testing.T) {
	type m struct {
		port, ip, hostPort string
	}
	for _, tc := range []struct {
		in   string
		want []m
	}{
		{"80", []m{{"80/tcp", "", ""}}},
		{"8080:80", []m{{"80/tcp", "", "8080"}}},
		{"127.0.0.1:8080:80/udp", []m{{"80/udp", "127.0.0.1", "8080"}}},
		{"127.0.0.1::80", []m{{"80/tcp", "127.0.0.1", ""}}},
		{"[::1]:8080:80", []m{{"80/tcp", "::1", "8080"}}},
		{"[::]::80/tcp", []m{{"80/tcp", "::", ""}}},
		{"::1:8080:80", []m{{"80/tcp", "::1", "8080"}}},
		{"80/SCTP", []m{{"80/sctp", "", ""}}},
		{"80/", []m{{"80/tcp", "", ""}}},
		{"80-81", []m{{"80/tcp", "", ""}, {"81/tcp", "", ""}}},
		{"8000-8001:80-81/udp", []m{{"80/udp", "", "8000"}, {"81/udp", "", "8001"}}},
		// A host range for one container port: the daemon picks one.
		{"8000-8010:80", []m{{"80/tcp", "", "8000-8010"}}},
		{"0:80", []m{{"80/tcp", "", "0"}}},
		{"published=8080,target=80,protocol=udp", []m{{"80/udp", "", "8080"}}},
		{"target=80", []m{{"80/tcp", "", ""}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePortSpec(tc.in)
			if err != nil {
				t.Fatalf("parsePortSpec(%q) = %v", tc.in, err)
			}
			var gm []m
			for _, g := range got {
				ip := ""
				if g.binding.HostIP.IsValid() {
					ip = g.binding.HostIP.String()
				}
				gm = append(gm, m{g.port.String(), ip, g.binding.HostPort})
			}
			if !reflect.DeepEqual(gm, tc.want) {
				t.Errorf("parsePortSpec(%q) = %v, want %v", tc.in, gm, tc.want)
			}
		})
	}
	for _, tc := range []struct{ in, want string }{
		{"", "no port specified: <empty>"},
		{"8080:", "no port specified: 8080:<empty>"},
		{"abc", "invalid containerPort: abc"},
		{"70000", "invalid containerPort: 70000"},
		{"81-80", "invalid containerPort: 81-80"},
		{"x:80", "invalid hostPort: x"},
		{"9-8:80", "invalid hostPort: 9-8"},
		{"1.2.3:80:80", "invalid IP address: 1.2.3"},
		{"localhost:80:80", "invalid IP address: localhost"},
		{"[::1:80:80", "invalid IP address [::1: address [::1:: missing ']' in address"},
		{"8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{"8080:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8080"},
		{"80/icmp", "invalid proto: icmp"},
		{"published=8080,80", "invalid publish opts format (should be name=value but got '80')"},
	} {
		t.Run("invalid "+tc.in, func(t *testing.T) {
			if got, err := parsePortSpec(tc.in); err == nil || err.Error() != tc.want {
				t.Errorf("parsePortSpec(%q) = %v, %v, want error %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParsePortsExpose(t *testing.T) {
	exposed, bindings, err := parsePorts([]string{"8080:80", "127.0.0.1:8081:80", "53/udp"}, []string{"9000-9001", "7000/udp"})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for p := range exposed {
		keys = append(keys, p.String())
	}
	for _, want := range []string{"80/tcp", "53/udp", "9000/tcp", "9001/tcp", "7000/udp"} {
		if _, ok := exposed[network.MustParsePort(want)]; !ok {
			t.Errorf("exposed %v lacks %s", keys, want)
		}
	}
	if len(exposed) != 5 {
		t.Errorf("exposed = %v, want 5 ports", keys)
	}
	want := []network.PortBinding{{HostPort: "8080"}, {HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8081"}}
	if got := bindings[network.MustParsePort("80/tcp")]; !reflect.DeepEqual(got, want) {
		t.Errorf("bindings of 80/tcp = %v, want %v", got, want)
	}
	if got := bindings[network.MustParsePort("53/udp")]; !reflect.DeepEqual(got, []network.PortBinding{{}}) {
		t.Errorf("bindings of 53/udp = %v", got)
	}
	for _, tc := range []struct{ expose, want string }{
		{"80:90", "invalid port format for --expose: 80:90"},
		{"x", `invalid range format for --expose: x, error: strconv.ParseUint: parsing "x": invalid syntax`},
		{"90-80", "invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80"},
		{"", "invalid range format for --expose: , error: empty string specified for ports"},
	} {
		if _, _, err := parsePorts(nil, []string{tc.expose}); err == nil || err.Error() != tc.want {
			t.Errorf("--expose %q: %v, want %q", tc.expose, err, tc.want)
		}
	}
}

func TestParseRunNetworkFlags(t *testing.T) {
	mac, _ := net.ParseMAC("02:42:ac:11:00:02")
	for _, tc := range []struct {
		name  string
		args  []string
		mode  string
		links []string
		eps   map[string]*network.EndpointSettings
	}{
		{"default", nil, "default", nil, map[string]*network.EndpointSettings{"default": {}}},
		{"one network", []string{"--network", "n1"}, "n1", nil, map[string]*network.EndpointSettings{}},
		{"net alias", []string{"--net", "host"}, "host", nil, map[string]*network.EndpointSettings{}},
		{"legacy link", []string{"--link", "db:d"}, "default", []string{"db:d"}, map[string]*network.EndpointSettings{"default": {}}},
		{"endpoint flags", []string{"--network", "n1", "--network-alias", "a", "--net-alias", "b", "--ip", "10.0.0.5",
			"--ip6", "fd00::5", "--mac-address", "02:42:ac:11:00:02", "--link", "db"}, "n1", []string{"db"},
			map[string]*network.EndpointSettings{"n1": {
				Aliases: []string{"a", "b"}, Links: []string{"db"}, MacAddress: network.HardwareAddr(mac),
				IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.0.0.5"), IPv6Address: netip.MustParseAddr("fd00::5")},
			}}},
		{"ip on default", []string{"--ip", "172.17.0.9"}, "default", nil, map[string]*network.EndpointSettings{
			"default": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("172.17.0.9")}}}},
		{"long syntax", []string{"--network", "name=n1,alias=X,ip=10.0.0.7", "--network", "n2"}, "n1", nil,
			map[string]*network.EndpointSettings{
				"n1": {Aliases: []string{"x"}, IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.0.0.7")}},
				"n2": {},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _, err := parseRun(t, append(tc.args, "bb")...)
			if err != nil {
				t.Fatal(err)
			}
			if string(req.HostConfig.NetworkMode) != tc.mode || !reflect.DeepEqual(req.HostConfig.Links, tc.links) {
				t.Errorf("network mode %q links %v, want %q %v", req.HostConfig.NetworkMode, req.HostConfig.Links, tc.mode, tc.links)
			}
			got := req.NetworkingConfig.EndpointsConfig
			if !reflect.DeepEqual(got, tc.eps) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(tc.eps)
				t.Errorf("endpoints = %s\nwant %s", gb, wb)
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--network-alias", "a"}, "network-scoped aliases are only supported for user-defined networks"},
		{[]string{"--network", "bridge", "--network-alias", "a"}, "network-scoped aliases are only supported for user-defined networks"},
		{[]string{"--network", "host", "--network", "n1"}, "conflicting options: cannot attach both user-defined and non-user-defined network-modes"},
		{[]string{"--network", "n1", "--network", "n1"}, `network "n1" is specified multiple times`},
		{[]string{"--mac-address", "zz"}, "zz is not a valid mac address"},
		{[]string{"--network", "name=n1,alias=a", "--network-alias", "b"}, "conflicting options: cannot specify both --network-alias and per-network alias"},
		{[]string{"--network", "name=n1,ip=10.0.0.1", "--ip", "10.0.0.2"}, "conflicting options: cannot specify both --ip and per-network IPv4 address"},
		{[]string{"--network", "name=n1,gw-priority=1"}, "the --network gw-priority option is not supported by shoal yet"},
		{[]string{"--network", "n1", "--ip", "bogus"}, "invalid IPv4 address: bogus"},
		{[]string{"--expose", "80:90"}, "invalid port format for --expose: 80:90"},
		{[]string{"-p", "8000-8002:80-81"}, "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{[]string{"--link-local-ip", "169.254.0.1"}, "the --link-local-ip flag is not supported by shoal yet"},
	} {
		if _, _, err := parseRun(t, append(tc.args, "bb")...); err == nil || err.Error() != tc.want {
			t.Errorf("run %q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	// Flag values are checked as they are parsed.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--add-host", "nohost"}, `bad format for add-host: "nohost"`},
		{[]string{"--add-host", "h:notip"}, `invalid IP address in add-host: "notip"`},
		{[]string{"--dns", "x"}, "IP address is not correctly formatted: x"},
		{[]string{"--dns-search", "-bad"}, "-bad is not a valid domain"},
		{[]string{"--link", "a:b:c"}, "bad format for links: a:b:c"},
		{[]string{"--network", "name=n1,bogus=1"}, "invalid field key bogus"},
		{[]string{"--network", "alias=a"}, "network name/id is not specified"},
	} {
		if _, _, err := parseRun(t, append(tc.args, "bb")...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	req, _, err := parseRun(t, "--add-host", "h=[::1]", "--add-host", "gw:host-gateway", "--dns", "0:0::1", "bb")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(req.HostConfig.ExtraHosts, []string{"h:::1", "gw:host-gateway"}) || len(req.HostConfig.DNS) != 1 || req.HostConfig.DNS[0] != netip.MustParseAddr("::1") {
		t.Errorf("extra hosts %q dns %v", req.HostConfig.ExtraHosts, req.HostConfig.DNS)
	}
}

func TestIPAMConfig(t *testing.T) {
	ipam, err := ipamConfig("default", []string{"10.1.0.0/16", "fd00:1::/64"}, []string{"10.1.2.0/24"}, []string{"fd00:1::1", "10.1.0.1"},
		map[string]string{"host1": "10.1.0.5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{
		{Subnet: netip.MustParsePrefix("10.1.0.0/16"), IPRange: netip.MustParsePrefix("10.1.2.0/24"), Gateway: netip.MustParseAddr("10.1.0.1"),
			AuxAddress: map[string]netip.Addr{"host1": netip.MustParseAddr("10.1.0.5")}},
		{Subnet: netip.MustParsePrefix("fd00:1::/64"), Gateway: netip.MustParseAddr("fd00:1::1")},
	}}
	if !reflect.DeepEqual(ipam, want) {
		t.Errorf("ipamConfig = %+v\nwant %+v", ipam, want)
	}
	for _, tc := range []struct {
		subnets, ranges, gateways []string
		aux                       map[string]string
		want                      string
	}{
		{nil, nil, []string{"10.0.0.1"}, nil, "every ip-range or gateway must have a corresponding subnet"},
		{[]string{"bogus"}, nil, nil, nil, "invalid subnet: invalid CIDR address: bogus"},
		{[]string{"10.0.0.0/8", "10.1.0.0/16"}, nil, nil, nil, "multiple overlapping subnet configuration is not supported"},
		{[]string{"10.0.0.0/24"}, nil, []string{"10.9.0.1"}, nil, "no matching subnet for gateway 10.9.0.1"},
		{[]string{"10.0.0.0/24"}, nil, []string{"bogus"}, nil, "no matching subnet for gateway bogus"},
		{[]string{"10.0.0.0/24"}, []string{"10.9.0.0/25"}, nil, nil, "no matching subnet for range 10.9.0.0/25"},
		{[]string{"10.0.0.0/24"}, []string{"bogus"}, nil, nil, "invalid CIDR address: bogus"},
		{[]string{"10.0.0.0/24"}, nil, nil, map[string]string{"a": "10.9.0.1"}, "no matching subnet for aux-address 10.9.0.1"},
	} {
		if _, err := ipamConfig("default", tc.subnets, tc.ranges, tc.gateways, tc.aux, nil); err == nil || err.Error() != tc.want {
			t.Errorf("ipamConfig(%v, %v, %v, %v) = %v, want %q", tc.subnets, tc.ranges, tc.gateways, tc.aux, err, tc.want)
		}
	}
	if _, err := ipamConfig("default", []string{"10.0.0.0/24", "10.1.0.0/24"}, []string{"10.0.0.0/26", "10.0.0.64/26"}, nil, nil, nil); err == nil ||
		err.Error() != "cannot configure multiple ranges (10.0.0.64/26, 10.0.0.0/26) on the same subnet (10.0.0.0/24)" {
		t.Errorf("two ranges in one subnet: %v", err)
	}
}

func fixedNetworks() []network.Summary {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(id, name, driver string, labels map[string]string) network.Summary {
		return network.Summary{Network: network.Network{ID: id, Name: name, Driver: driver, Scope: "local",
			Created: created, EnableIPv4: true, Labels: labels}}
	}
	return []network.Summary{
		mk("f00dbabe0000111122223333444455556666777788889999aaaabbbbccccdddd", "net10", "bridge", nil),
		mk("0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef", "bridge", "bridge", nil),
		mk("abcdefabcdef0000000000000000000000000000000000000000000000000000", "net-1", "bridge", map[string]string{"b": "2", "a": "1"}),
		mk("1111111111112222222222222222222222222222222222222222222222222222", "net2", "bridge", nil),
		mk("9999999999990000000000000000000000000000000000000000000000000000", "host", "host", nil),
	}
}

func TestNetworkLsOutput(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		quiet, trunc bool
		want         string
	}{
		{"default", "", false, true,
			"NETWORK ID     NAME      DRIVER    SCOPE\n" +
				"0123456789ab   bridge    bridge    local\n" +
				"999999999999   host      host      local\n" +
				"111111111111   net2      bridge    local\n" +
				"f00dbabe0000   net10     bridge    local\n" +
				"abcdefabcdef   net-1     bridge    local\n"},
		{"quiet", "", true, true, "0123456789ab\n999999999999\n111111111111\nf00dbabe0000\nabcdefabcdef\n"},
		{"quiet table", "table", true, false,
			"0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef\n" +
				"9999999999990000000000000000000000000000000000000000000000000000\n" +
				"1111111111112222222222222222222222222222222222222222222222222222\n" +
				"f00dbabe0000111122223333444455556666777788889999aaaabbbbccccdddd\n" +
				"abcdefabcdef0000000000000000000000000000000000000000000000000000\n"},
		// -q gives way to a custom table, as in the docker CLI.
		{"quiet custom table", "table {{.Name}}\t{{.Labels}}", true, true,
			"NAME      LABELS\nbridge    \nhost      \nnet2      \nnet10     \nnet-1     a=1,b=2\n"},
		{"template", "{{.Name}}:{{.IPv4}}:{{.IPv6}}:{{.Internal}}:{{.Label \"a\"}}", false, true,
			"bridge:true:false:false:\nhost:true:false:false:\nnet2:true:false:false:\nnet10:true:false:false:\nnet-1:true:false:false:1\n"},
		{"raw", "raw", false, true,
			"network_id: 0123456789ab\nname: bridge\ndriver: bridge\nscope: local\n\n" +
				"network_id: 999999999999\nname: host\ndriver: host\nscope: local\n\n" +
				"network_id: 111111111111\nname: net2\ndriver: bridge\nscope: local\n\n" +
				"network_id: f00dbabe0000\nname: net10\ndriver: bridge\nscope: local\n\n" +
				"network_id: abcdefabcdef\nname: net-1\ndriver: bridge\nscope: local\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := networkLister(tc.format, tc.quiet).write(&b, networkRows(fixedNetworks(), tc.trunc)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("network ls output:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
	// json: one object a line, with every field, the ID cut short.
	var b bytes.Buffer
	if err := networkLister("json", true).write(&b, networkRows(fixedNetworks()[:1], true)); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("json output %q: %v", b.String(), err)
	}
	want := map[string]string{"ID": "f00dbabe0000", "Name": "net10", "Driver": "bridge", "Scope": "local", "IPv4": "true",
		"IPv6": "false", "Internal": "false", "Labels": "", "CreatedAt": "2025-01-02 03:04:05 +0000 UTC"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("json output = %v, want %v", got, want)
	}
}

func TestNaturalOrderLess(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"network-2-foo", "network-10-foo", true},
		{"network-10-foo", "network-2-foo", false},
		{"net2", "net-1", true}, // a digit sorts before any other byte
		{"net-1", "net2", false},
		{"x1", "x01", true},
		{"x01", "x1", false},
		{"a", "a1", true},
		{"a", "a", false},
		{"80/tcp -> 0.0.0.0:3456", "443/tcp -> 0.0.0.0:4567", true},
		{"0.0.0.0:3456", "[::]:3456", true},
	} {
		if got := naturalOrderLess(tc.a, tc.b); got != tc.want {
			t.Errorf("naturalOrderLess(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPortLines(t *testing.T) {
	// The docker CLI's port_test fixtures.
	ports := network.PortMap{}
	for _, ip := range []string{"::", "0.0.0.0"} {
		a := netip.MustParseAddr(ip)
		ports[network.MustParsePort("80/tcp")] = append(ports[network.MustParsePort("80/tcp")], network.PortBinding{HostIP: a, HostPort: "3456"})
		ports[network.MustParsePort("443/tcp")] = append(ports[network.MustParsePort("443/tcp")], network.PortBinding{HostIP: a, HostPort: "4567"})
		ports[network.MustParsePort("443/udp")] = append(ports[network.MustParsePort("443/udp")], network.PortBinding{HostIP: a, HostPort: "5678"})
	}
	ports[network.MustParsePort("9000/tcp")] = nil // exposed, not published
	for _, tc := range []struct {
		want string
		out  []string
	}{
		{"", []string{"80/tcp -> 0.0.0.0:3456", "80/tcp -> [::]:3456", "443/tcp -> 0.0.0.0:4567", "443/tcp -> [::]:4567",
			"443/udp -> 0.0.0.0:5678", "443/udp -> [::]:5678"}},
		{"80", []string{"0.0.0.0:3456", "[::]:3456"}},
		{"443/udp", []string{"0.0.0.0:5678", "[::]:5678"}},
	} {
		got, err := portLines(ports, "web", tc.want)
		if err != nil || !reflect.DeepEqual(got, tc.out) {
			t.Errorf("portLines(%q) = %q, %v, want %q", tc.want, got, err, tc.out)
		}
	}
	for _, tc := range []struct{ want, err string }{
		{"8080", "Error: No public port '8080' published for web"},
		{"9000", "Error: No public port '9000' published for web"},
		{"80/TCP", "Error: No public port '80/TCP' published for web"},
		{"abc", `Error: invalid port (abc): strconv.ParseUint: parsing "abc": invalid syntax`},
	} {
		if _, err := portLines(ports, "web", tc.want); err == nil || err.Error() != tc.err {
			t.Errorf("portLines(%q): %v, want %q", tc.want, err, tc.err)
		}
	}
	if got, err := portLines(nil, "web", ""); err != nil || len(got) != 0 {
		t.Errorf("portLines of no ports = %q, %v", got, err)
	}
}

// fakeDaemon answers the network and container inspect endpoints from
// fixed data and records the requests it was sent.
type fakeDaemon struct {
	sock string
	mu   sync.Mutex
	reqs []string // "METHOD /path body"
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{sock: filepath.Join(t.TempDir(), "d.sock")}
	l, err := net.Listen("unix", d.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(d.serve))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return d
}

func (d *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p := r.URL.Path
	if i := strings.Index(p[1:], "/"); strings.HasPrefix(p, "/v") && i > 0 {
		p = p[i+1:]
	}
	d.mu.Lock()
	d.reqs = append(d.reqs, strings.TrimSpace(r.Method+" "+p+"?"+r.URL.RawQuery+" "+string(body)))
	d.mu.Unlock()
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(code int, msg string) { reply(code, map[string]string{"message": msg}) }
	switch {
	case r.Method == http.MethodPost && p == "/networks/create":
		reply(http.StatusCreated, network.CreateResponse{ID: "4f0c0ffee"})
	case r.Method == http.MethodGet && p == "/networks":
		reply(http.StatusOK, fixedNetworks())
	case r.Method == http.MethodPost && p == "/networks/prune":
		reply(http.StatusOK, network.PruneReport{NetworksDeleted: []string{"n1", "n2"}})
	case r.Method == http.MethodDelete && p == "/networks/missing":
		fail(http.StatusNotFound, "network missing not found")
	case r.Method == http.MethodDelete && p == "/networks/bridge":
		fail(http.StatusForbidden, "bridge is a pre-defined network and cannot be removed")
	case r.Method == http.MethodDelete && strings.HasPrefix(p, "/networks/"):
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && p == "/networks/n1":
		reply(http.StatusOK, network.Inspect{Network: network.Network{Name: "n1", ID: "abc", Driver: "bridge"}})
	case r.Method == http.MethodPost && (strings.HasSuffix(p, "/connect") || strings.HasSuffix(p, "/disconnect")):
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodGet && p == "/containers/web/json":
		reply(http.StatusOK, container.InspectResponse{ID: "web", NetworkSettings: &container.NetworkSettings{Ports: network.PortMap{
			network.MustParsePort("80/tcp"):   {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}, {HostIP: netip.MustParseAddr("::"), HostPort: "8080"}},
			network.MustParsePort("8443/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "443"}},
		}}})
	default:
		fail(http.StatusNotFound, "page not found")
	}
}

func (d *fakeDaemon) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.reqs
	d.reqs = nil
	return out
}

// shoal runs the CLI against d with stdin.
func (d *fakeDaemon) shoal(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := &cobra.Command{Use: "shoal", SilenceErrors: true, SilenceUsage: true}
	addClientCmds(root)
	var o, e bytes.Buffer
	root.SetOut(&o)
	root.SetErr(&e)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"-H", "unix://" + d.sock}, args...))
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = int(ee)
	default:
		t.Fatalf("shoal %q: %v", args, err)
	}
	return o.String(), e.String(), code
}

func TestNetworkCommands(t *testing.T) {
	d := newFakeDaemon(t)
	check := func(args []string, stdin, wantOut, wantErr string, wantCode int, wantReqs ...string) {
		t.Helper()
		o, e, code := d.shoal(t, stdin, args...)
		reqs := d.requests()
		if o != wantOut || e != wantErr || code != wantCode {
			t.Errorf("shoal %q: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", args, code, o, e, wantCode, wantOut, wantErr)
		}
		if wantReqs != nil && (len(reqs) != 0 || len(wantReqs) != 0) && !reflect.DeepEqual(reqs, wantReqs) {
			t.Errorf("shoal %q sent\n%q\nwant\n%q", args, reqs, wantReqs)
		}
	}
	check([]string{"network", "create", "--subnet", "10.5.0.0/24", "--gateway", "10.5.0.1", "--label", "k=v", "-o", "mtu=1400", "--internal", "--ipv6=false", "n1"},
		"", "4f0c0ffee\n", "", 0,
		`POST /networks/create? {"Name":"n1","Driver":"bridge","Scope":"","EnableIPv6":false,"IPAM":{"Driver":"default","Options":{},"Config":[{"Subnet":"10.5.0.0/24","Gateway":"10.5.0.1"}]},"Internal":true,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{"mtu":"1400"},"Labels":{"k":"v"}}`)
	check([]string{"network", "create", "--gateway", "10.5.0.1", "n1"}, "", "", "every ip-range or gateway must have a corresponding subnet\n", 1, []string{}...)
	check([]string{"network", "ls", "-q", "--filter", "driver=bridge"}, "", "0123456789ab\n999999999999\n111111111111\nf00dbabe0000\nabcdefabcdef\n", "", 0,
		`GET /networks?filters=%7B%22driver%22%3A%5B%22bridge%22%5D%7D`)
	check([]string{"network", "inspect", "-f", "{{.Name}} {{.Driver}}", "n1"}, "", "n1 bridge\n", "", 0)
	check([]string{"network", "inspect", "-v", "n1"}, "", "", "the --verbose flag is not supported by shoal yet\n", 1)
	check([]string{"inspect", "--type", "network", "-f", "{{.ID}}", "n1"}, "", "abc\n", "", 0)
	// rm goes on after a failure, prints each error as it comes, and
	// ends with docker's "exit status 1".
	check([]string{"network", "rm", "a", "missing", "bridge", "b"}, "", "a\nb\n",
		"Error response from daemon: network missing not found\nError response from daemon: bridge is a pre-defined network and cannot be removed\nexit status 1\n", 1)
	check([]string{"network", "rm", "-f", "missing", "a"}, "", "a\n", "", 0)
	// prune asks first; declined, it ends quietly with status 0.
	check([]string{"network", "prune"}, "n\n",
		"WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ", "", 0, []string{}...)
	check([]string{"network", "prune", "--filter", "until=24h"}, "y\n",
		"WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Networks:\nn1\nn2\n\n", "", 0,
		`POST /networks/prune?filters=%7B%22until%22%3A%5B%2224h%22%5D%7D`)
	check([]string{"network", "connect", "--alias", "a,b", "--ip", "10.5.0.9", "--link", "db:d", "n1", "web"}, "", "", "", 0,
		`POST /networks/n1/connect? {"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.5.0.9"},"Links":["db:d"],"Aliases":["a","b"],"DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","MacAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}`)
	check([]string{"network", "connect", "--gw-priority", "1", "n1", "web"}, "", "", "the --gw-priority flag is not supported by shoal yet\n", 1, []string{}...)
	check([]string{"network", "disconnect", "-f", "n1", "web"}, "", "", "", 0, `POST /networks/n1/disconnect? {"Container":"web","Force":true}`)
	check([]string{"port", "web"}, "", "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n8443/tcp -> 127.0.0.1:443\n", "", 0)
	check([]string{"container", "port", "web", "80/tcp"}, "", "0.0.0.0:8080\n[::]:8080\n", "", 0)
	check([]string{"port", "web", "81"}, "", "", "Error: No public port '81' published for web\n", 1)
}

// TestPruneDeclined: every prune the user declines ends quietly with
// status 0 and sends nothing, as docker 28 does.
func TestPruneDeclined(t *testing.T) {
	d := newFakeDaemon(t)
	for _, c := range []struct{ kind, warning string }{
		{"container", "WARNING! This will remove all stopped containers."},
		{"volume", "WARNING! This will remove anonymous local volumes not used by at least one container."},
		{"image", "WARNING! This will remove all dangling images."},
		{"network", "WARNING! This will remove all custom networks not used by at least one container."},
	} {
		o, e, code := d.shoal(t, "n\n", c.kind, "prune")
		if code != 0 || e != "" || o != c.warning+"\nAre you sure you want to continue? [y/N] " {
			t.Errorf("%s prune declined: exit %d\nstdout %q\nstderr %q", c.kind, code, o, e)
		}
		if reqs := d.requests(); len(reqs) != 0 {
			t.Errorf("%s prune declined sent %q", c.kind, reqs)
		}
	}
}
