package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// `shoal network ...` and `shoal port`, and the network flags of run and
// create (-p, --expose, --network, --network-alias, --ip, --ip6,
// --mac-address, --link), as the docker CLI 28 reads them.

func (cl *cli) newNetworkCmd() *cobra.Command {
	group := &cobra.Command{Use: "network", Short: "Manage networks", Args: noArgs}
	group.AddCommand(cl.newNetworkConnectCmd(), cl.newNetworkCreateCmd(), cl.newNetworkDisconnectCmd(),
		cl.newNetworkInspectCmd(), cl.newNetworkLsCmd(), cl.newNetworkRmCmd(), cl.newNetworkPruneCmd())
	return group
}

func getNetwork(ctx context.Context, c *client.Client, ref string) (any, []byte, error) {
	v, raw, err := c.NetworkInspect(ctx, ref)
	return v, raw, err
}

func (cl *cli) newNetworkCreateCmd() *cobra.Command {
	var (
		driver, scope, configFrom, ipamDriver string
		driverOpts, auxAddresses, ipamOpts    mapValue
		labels                                []string
		subnets, ipRanges, gateways           []string
		internal, ipv4, ipv6, attachable      bool
		ingress, configOnly                   bool
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ipam, err := ipamConfig(ipamDriver, subnets, ipRanges, gateways, auxAddresses.m, ipamOpts.m)
			if err != nil {
				return err
			}
			req := network.CreateRequest{
				Name:       args[0],
				Driver:     driver,
				Scope:      scope,
				Options:    orEmptyMap(driverOpts.m),
				IPAM:       ipam,
				Internal:   internal,
				Attachable: attachable,
				Ingress:    ingress,
				ConfigOnly: configOnly,
				Labels:     map[string]string{},
			}
			if cmd.Flags().Changed("ipv4") {
				req.EnableIPv4 = &ipv4
			}
			if cmd.Flags().Changed("ipv6") {
				req.EnableIPv6 = &ipv6
			}
			if configFrom != "" {
				req.ConfigFrom = &network.ConfigReference{Network: configFrom}
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				req.Labels[k] = v
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			resp, err := c.NetworkCreate(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(out(cmd), resp.ID)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&driver, "driver", "d", "bridge", "Driver to manage the Network")
	fs.VarP(&driverOpts, "opt", "o", "Set driver specific options")
	labelFlag := newList(&labels)
	labelFlag.validate = validateLabel
	fs.Var(labelFlag, "label", "Set metadata on a network")
	fs.BoolVar(&internal, "internal", false, "Restrict external access to the network")
	fs.BoolVar(&ipv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	fs.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	fs.BoolVar(&attachable, "attachable", false, "Enable manual container attachment")
	fs.BoolVar(&ingress, "ingress", false, "Create swarm routing-mesh network")
	fs.StringVar(&scope, "scope", "", "Control the network's scope")
	fs.BoolVar(&configOnly, "config-only", false, "Create a configuration only network")
	fs.StringVar(&configFrom, "config-from", "", "The network from which to copy the configuration")
	fs.StringVar(&ipamDriver, "ipam-driver", "default", "IP Address Management Driver")
	fs.StringSliceVar(&subnets, "subnet", []string{}, "Subnet in CIDR format that represents a network segment")
	fs.StringSliceVar(&ipRanges, "ip-range", []string{}, "Allocate container ip from a sub-range")
	fs.StringSliceVar(&gateways, "gateway", []string{}, "IPv4 or IPv6 Gateway for the master subnet")
	fs.Var(&auxAddresses, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	fs.Var(&ipamOpts, "ipam-opt", "Set IPAM driver specific options")
	return cmd
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// validateLabel is the docker CLI's check of a --label.
func validateLabel(s string) (string, error) {
	k, _, _ := strings.Cut(s, "=")
	k = strings.TrimLeft(k, " \t")
	if k == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", s)
	}
	if strings.ContainsAny(k, " \t") {
		return "", fmt.Errorf("label '%s' contains whitespaces", k)
	}
	return s, nil
}

// ipamConfig builds network create's IPAM from --subnet, --ip-range,
// --gateway and --aux-address, each matched to the subnet containing it,
// with the docker CLI's checks and messages.
func ipamConfig(driver string, subnets, ranges, gateways []string, aux, opts map[string]string) (*network.IPAM, error) {
	if len(subnets) < len(ranges) || len(subnets) < len(gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	type pool struct {
		subnet, ipRange, gateway string
		aux                      map[string]string
	}
	pools := map[string]*pool{}
	for _, s := range subnets {
		if _, _, err := net.ParseCIDR(s); err != nil {
			return nil, fmt.Errorf("invalid subnet: %w", err)
		}
		for k := range pools {
			a, err := subnetContains(s, k)
			if err != nil {
				return nil, err
			}
			b, err := subnetContains(k, s)
			if err != nil {
				return nil, err
			}
			if a || b {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		pools[s] = &pool{subnet: s, aux: map[string]string{}}
	}
	for _, r := range ranges {
		if _, _, err := net.ParseCIDR(r); err != nil {
			return nil, err
		}
		match := false
		for _, s := range subnets {
			ok, err := subnetContains(s, r)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if pools[s].ipRange != "" {
				return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r, pools[s].ipRange, s)
			}
			pools[s].ipRange = r
			match = true
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for range %s", r)
		}
	}
	for _, g := range gateways {
		match := false
		for _, s := range subnets {
			ok, err := subnetContains(s, g)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if pools[s].gateway != "" {
				return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, pools[s].gateway, s)
			}
			pools[s].gateway = g
			match = true
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for gateway %s", g)
		}
	}
	keys := make([]string, 0, len(aux))
	for k := range aux {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		match := false
		for _, s := range subnets {
			ok, err := subnetContains(s, aux[k])
			if err != nil {
				return nil, err
			}
			if ok {
				pools[s].aux[k] = aux[k]
				match = true
			}
		}
		if !match {
			return nil, fmt.Errorf("no matching subnet for aux-address %s", aux[k])
		}
	}
	// The API's types are parsed addresses: everything above was checked
	// as the docker CLI checks it, this only converts.
	out := &network.IPAM{Driver: driver, Config: []network.IPAMConfig{}, Options: orEmptyMap(opts)}
	for _, s := range subnets {
		p := pools[s]
		var c network.IPAMConfig
		var err error
		if c.Subnet, err = netip.ParsePrefix(p.subnet); err != nil {
			return nil, fmt.Errorf("invalid subnet: %w", err)
		}
		if p.ipRange != "" {
			if c.IPRange, err = netip.ParsePrefix(p.ipRange); err != nil {
				return nil, fmt.Errorf("invalid ip-range: %w", err)
			}
		}
		if p.gateway != "" {
			if c.Gateway, err = parseAddrOrPrefix(p.gateway); err != nil {
				return nil, fmt.Errorf("invalid gateway: %w", err)
			}
		}
		for k, v := range p.aux {
			a, err := parseAddrOrPrefix(v)
			if err != nil {
				return nil, fmt.Errorf("invalid aux-address: %w", err)
			}
			if c.AuxAddress == nil {
				c.AuxAddress = map[string]netip.Addr{}
			}
			c.AuxAddress[k] = a
		}
		out.Config = append(out.Config, c)
	}
	return out, nil
}

// subnetContains says whether subnet holds data, an address or a prefix
// (by its address).
func subnetContains(subnet, data string) (bool, error) {
	_, s, err := net.ParseCIDR(subnet)
	if err != nil {
		return false, fmt.Errorf("invalid subnet: %w", err)
	}
	var ip net.IP
	if strings.Contains(data, "/") {
		if ip, _, err = net.ParseCIDR(data); err != nil {
			return false, err
		}
	} else {
		ip = net.ParseIP(data)
	}
	return s.Contains(ip), nil
}

func parseAddrOrPrefix(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Addr(), err
	}
	return netip.ParseAddr(s)
}

// networkRow is one network for ls's templates.
type networkRow struct {
	n     network.Summary
	trunc bool
}

func (r *networkRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *networkRow) ID() string {
	if r.trunc {
		return truncateID(r.n.ID)
	}
	return r.n.ID
}

func (r *networkRow) Name() string      { return r.n.Name }
func (r *networkRow) Driver() string    { return r.n.Driver }
func (r *networkRow) Scope() string     { return r.n.Scope }
func (r *networkRow) IPv4() string      { return strconv.FormatBool(r.n.EnableIPv4) }
func (r *networkRow) IPv6() string      { return strconv.FormatBool(r.n.EnableIPv6) }
func (r *networkRow) Internal() string  { return strconv.FormatBool(r.n.Internal) }
func (r *networkRow) CreatedAt() string { return r.n.Created.String() }

func (r *networkRow) Labels() string {
	l := make([]string, 0, len(r.n.Labels))
	for k, v := range r.n.Labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

func (r *networkRow) Label(name string) string { return r.n.Labels[name] }

var networkHeader = map[string]string{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
	"IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

// networkLister renders networks as network ls does.
func networkLister(format string, quiet bool) lister {
	l := lister{format: format, table: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", header: networkHeader}
	switch format {
	case "", "table":
		// Only the default table gives way to -q: "table TMPL" and
		// "json" are kept, as the docker CLI does.
		if quiet {
			l.quiet = "{{.ID}}"
		}
	case "raw":
		l.format = `network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n`
		if quiet {
			l.format = `network_id: {{.ID}}`
		}
	}
	return l
}

// networkRows sorts networks by name, as the docker CLI does.
func networkRows(nets []network.Summary, trunc bool) []any {
	sort.SliceStable(nets, func(i, j int) bool { return naturalOrderLess(nets[i].Name, nets[j].Name) })
	rows := make([]any, len(nets))
	for i := range nets {
		rows[i] = &networkRow{n: nets[i], trunc: trunc}
	}
	return rows
}

func (cl *cli) newNetworkLsCmd() *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters filterFlag
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			nets, err := c.NetworkList(cmd.Context(), filters.m)
			if err != nil {
				return err
			}
			return networkLister(format, quiet).write(out(cmd), networkRows(nets, !noTrunc))
		},
	}
	fs := cmd.Flags()
	fs.VarP(&filters, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	return cmd
}

func (cl *cli) newNetworkInspectCmd() *cobra.Command {
	cmd := cl.newTypedInspectCmd("inspect [OPTIONS] NETWORK [NETWORK...]", "Display detailed information on one or more networks", getNetwork)
	var u unsupported
	u.add(cmd.Flags(), "verbose", "v", "bool", "Verbose output for diagnostics")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := u.check(cmd.Flags()); err != nil {
			return err
		}
		return run(cmd, args)
	}
	return cmd
}

func (cl *cli) newNetworkRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			// Each failure is printed as it comes; the docker CLI then
			// ends with "exit status 1".
			failed := false
			for _, name := range args {
				if err := c.NetworkRemove(cmd.Context(), name); err != nil {
					if force && errdefs.IsNotFound(err) {
						continue
					}
					fmt.Fprintln(errOut(cmd), err)
					failed = true
					continue
				}
				fmt.Fprintln(out(cmd), name)
			}
			if failed {
				return statusError{code: 1, msg: "exit status 1"}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

func (cl *cli) newNetworkPruneCmd() *cobra.Command {
	var force bool
	var filters filterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			if !confirm(cmd, force, "WARNING! This will remove all custom networks not used by at least one container.") {
				// docker 28 ends a declined prune quietly, with status 0.
				return nil
			}
			rep, err := c.NetworksPrune(cmd.Context(), filters.m)
			if err != nil {
				return err
			}
			if len(rep.NetworksDeleted) > 0 {
				w := out(cmd)
				fmt.Fprintln(w, "Deleted Networks:")
				for _, n := range rep.NetworksDeleted {
					fmt.Fprintln(w, n)
				}
				fmt.Fprintln(w)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.Var(&filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

func (cl *cli) newNetworkConnectCmd() *cobra.Command {
	var ip, ip6 string
	links, aliases := []string{}, []string{}
	var u unsupported
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			ipam, err := endpointIPAM(ip, ip6)
			if err != nil {
				return err
			}
			if ipam == nil {
				ipam = &network.EndpointIPAMConfig{}
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			return c.NetworkConnect(cmd.Context(), args[0], args[1], &network.EndpointSettings{
				IPAMConfig: ipam,
				Links:      links,
				Aliases:    aliases,
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&ip, "ip", "", `IPv4 address (e.g., "172.30.100.104")`)
	fs.StringVar(&ip6, "ip6", "", `IPv6 address (e.g., "2001:db8::33")`)
	linkFlag := newList(&links)
	linkFlag.validate = validateLink
	fs.Var(linkFlag, "link", "Add link to another container")
	fs.StringSliceVar(&aliases, "alias", []string{}, "Add network-scoped alias for the container")
	u.add(fs, "link-local-ip", "", "strings", "Add a link-local address for the container")
	u.add(fs, "driver-opt", "", "strings", "driver options for the network")
	u.add(fs, "gw-priority", "", "int", "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

func (cl *cli) newNetworkDisconnectCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			return c.NetworkDisconnect(cmd.Context(), args[0], args[1], force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

// endpointIPAM is --ip/--ip6 as the API takes them, nil when neither is
// given. The daemon checks the family and the subnet; an address that
// does not parse is refused here, with dockerd's words.
func endpointIPAM(ip4, ip6 string) (*network.EndpointIPAMConfig, error) {
	if ip4 == "" && ip6 == "" {
		return nil, nil
	}
	var c network.EndpointIPAMConfig
	var err error
	if ip4 != "" {
		if c.IPv4Address, err = netip.ParseAddr(ip4); err != nil {
			return nil, fmt.Errorf("invalid IPv4 address: %s", ip4)
		}
	}
	if ip6 != "" {
		if c.IPv6Address, err = netip.ParseAddr(ip6); err != nil {
			return nil, fmt.Errorf("invalid IPv6 address: %s", ip6)
		}
	}
	return &c, nil
}

// validateLink is the docker CLI's check of a --link NAME[:ALIAS].
func validateLink(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty string specified for links")
	}
	if len(strings.SplitN(s, ":", 3)) > 2 {
		return "", errors.New("bad format for links: " + s)
	}
	return s, nil
}

// validateMAC is the docker CLI's check of a --mac-address.
func validateMAC(s string) (network.HardwareAddr, error) {
	hw, err := net.ParseMAC(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid mac address", s)
	}
	return network.HardwareAddr(hw), nil
}

// validateExtraHost is the docker CLI's check of an --add-host
// HOST:IP or HOST=IP (IP may be in brackets, or host-gateway); it
// returns the HOST:IP the daemon takes.
func validateExtraHost(s string) (string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		k, v, ok = strings.Cut(s, ":")
	}
	if !ok || k == "" || strings.Contains(k, ":") {
		return "", fmt.Errorf("bad format for add-host: %q", s)
	}
	if v != "host-gateway" {
		if len(v) > 2 && v[0] == '[' && v[len(v)-1] == ']' {
			v = v[1 : len(v)-1]
		}
		if net.ParseIP(strings.TrimSpace(v)) == nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", v)
		}
	}
	return k + ":" + v, nil
}

// validateDNS is the docker CLI's check of a --dns: an IP address, in
// its canonical form.
func validateDNS(s string) (string, error) {
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil {
		return "", fmt.Errorf("IP address is not correctly formatted: %s", s)
	}
	return ip.String(), nil
}

var (
	alphaRegexp  = regexp.MustCompile(`[a-zA-Z]`)
	domainRegexp = regexp.MustCompile(`^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])))*)\.?\s*$`)
)

// validateDNSSearch is the docker CLI's check of a --dns-search domain
// ("." clears the search list).
func validateDNSSearch(s string) (string, error) {
	if s = strings.Trim(s, " "); s == "." {
		return s, nil
	}
	if alphaRegexp.FindString(s) == "" {
		return "", fmt.Errorf("%s is not a valid domain", s)
	}
	if m := domainRegexp.FindStringSubmatch(s); len(m) > 0 && len(m[1]) < 255 {
		return m[1], nil
	}
	return "", fmt.Errorf("%s is not a valid domain", s)
}

// networkAttachment is one --network: a name, or the long syntax
// name=NET,alias=A,ip=...,ip6=...,mac-address=...
type networkAttachment struct {
	target           string
	aliases          []string
	links            []string
	ipv4, ipv6, mac  string
	linkLocalIPs     []string
	driverOpts       map[string]string
	gwPriority       int
	unsupportedField string // a long-syntax field Shoal does not honour
}

// networkOpt is run's --network (and --net), repeatable.
type networkOpt struct{ list []networkAttachment }

var longNetworkSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

func (n *networkOpt) String() string { return "" }
func (n *networkOpt) Type() string   { return "network" }

func (n *networkOpt) Set(s string) error {
	if !longNetworkSyntax.MatchString(s) {
		n.list = append(n.list, networkAttachment{target: s})
		return nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return err
	}
	var a networkAttachment
	for _, field := range fields {
		// As the docker CLI does, the whole field is lower-cased.
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return fmt.Errorf("invalid field %s", field)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "name":
			a.target = val
		case "alias":
			a.aliases = append(a.aliases, val)
		case "ip":
			a.ipv4 = val
		case "ip6":
			a.ipv6 = val
		case "mac-address":
			a.mac = val
		case "link-local-ip":
			a.linkLocalIPs = append(a.linkLocalIPs, val)
			a.unsupportedField = key
		case "driver-opt":
			k, v, ok := strings.Cut(val, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return errors.New("invalid key value pair format in driver options")
			}
			if a.driverOpts == nil {
				a.driverOpts = map[string]string{}
			}
			a.driverOpts[strings.TrimSpace(k)] = strings.TrimSpace(v)
			a.unsupportedField = key
		case "gw-priority":
			p, err := strconv.Atoi(val)
			if err != nil {
				var ne *strconv.NumError
				if errors.As(err, &ne) {
					err = ne.Err
				}
				return fmt.Errorf("invalid gw-priority (%s): %w", val, err)
			}
			a.gwPriority = p
			a.unsupportedField = key
		default:
			return errors.New("invalid field key " + key)
		}
	}
	if a.target == "" {
		return errors.New("network name/id is not specified")
	}
	n.list = append(n.list, a)
	return nil
}

// mode is the HostConfig.NetworkMode: the first network, or "default".
func (n *networkOpt) mode() string {
	if len(n.list) == 0 {
		return network.NetworkDefault
	}
	return n.list[0].target
}

// endpointsConfig is run's NetworkingConfig.EndpointsConfig, built as the
// docker CLI 28 builds it: --network-alias, --link (on a user-defined
// network), --ip, --ip6 and --mac-address go on the first network; with
// no --network they go on "default"; a single --network without options
// has no entry.
func (o *containerOptions) endpointsConfig() (map[string]*network.EndpointSettings, error) {
	eps := map[string]*network.EndpointSettings{}
	attachments := o.netOpt.list
	if len(attachments) == 0 {
		attachments = []networkAttachment{{target: network.NetworkDefault}}
	}
	var userDefined, other bool
	for i, a := range attachments {
		if container.NetworkMode(a.target).IsUserDefined() {
			userDefined = true
		} else {
			other = true
		}
		if i == 0 {
			if err := o.applyEndpointFlags(&a); err != nil {
				return nil, err
			}
		}
		if a.unsupportedField != "" {
			return nil, fmt.Errorf("the --network %s option is not supported by shoal yet", a.unsupportedField)
		}
		ep, err := endpointSettings(a)
		if err != nil {
			return nil, err
		}
		if _, ok := eps[a.target]; ok {
			return nil, fmt.Errorf("network %q is specified multiple times", a.target)
		}
		if i == 0 && len(o.netOpt.list) == 1 && isEmptyEndpoint(ep) {
			continue
		}
		eps[a.target] = ep
	}
	if userDefined && other {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return eps, nil
}

// applyEndpointFlags puts the endpoint flags on the first network.
func (o *containerOptions) applyEndpointFlags(a *networkAttachment) error {
	switch {
	case len(a.aliases) > 0 && len(o.aliases) > 0:
		return errors.New("conflicting options: cannot specify both --network-alias and per-network alias")
	case len(a.links) > 0 && len(o.links) > 0:
		return errors.New("conflicting options: cannot specify both --link and per-network links")
	case a.ipv4 != "" && o.ipv4 != "":
		return errors.New("conflicting options: cannot specify both --ip and per-network IPv4 address")
	case a.ipv6 != "" && o.ipv6 != "":
		return errors.New("conflicting options: cannot specify both --ip6 and per-network IPv6 address")
	case a.mac != "" && o.macAddress != "":
		return errors.New("conflicting options: cannot specify both --mac-address and per-network MAC address")
	}
	if len(o.aliases) > 0 {
		a.aliases = append([]string(nil), o.aliases...)
	}
	// On a user-defined network --link is an endpoint option (an alias);
	// on the default bridge it is a legacy link, in HostConfig only.
	if container.NetworkMode(a.target).IsUserDefined() && len(o.links) > 0 {
		a.links = append([]string(nil), o.links...)
	}
	if o.ipv4 != "" {
		a.ipv4 = o.ipv4
	}
	if o.ipv6 != "" {
		a.ipv6 = o.ipv6
	}
	if o.macAddress != "" {
		a.mac = o.macAddress
	}
	return nil
}

func endpointSettings(a networkAttachment) (*network.EndpointSettings, error) {
	if strings.TrimSpace(a.target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !container.NetworkMode(a.target).IsUserDefined() {
		if len(a.aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if len(a.links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
	}
	ep := &network.EndpointSettings{GwPriority: a.gwPriority, DriverOpts: a.driverOpts}
	ep.Aliases = append(ep.Aliases, a.aliases...)
	if len(a.links) > 0 {
		ep.Links = a.links
	}
	ipam, err := endpointIPAM(a.ipv4, a.ipv6)
	if err != nil {
		return nil, err
	}
	ep.IPAMConfig = ipam
	if a.mac != "" {
		if ep.MacAddress, err = validateMAC(a.mac); err != nil {
			return nil, err
		}
	}
	return ep, nil
}

func isEmptyEndpoint(ep *network.EndpointSettings) bool {
	return ep == nil || (ep.IPAMConfig == nil && len(ep.Links) == 0 && len(ep.Aliases) == 0 &&
		len(ep.DriverOpts) == 0 && ep.GwPriority == 0 && len(ep.MacAddress) == 0)
}

// portMapping is one container port of a -p and its binding.
type portMapping struct {
	port    network.Port
	binding network.PortBinding
}

// publishToStandard turns -p's long syntax (published=8080,target=80,
// protocol=udp) into [HOSTPORT:]PORT/PROTO, as the docker CLI does.
func publishToStandard(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	params := map[string]string{"protocol": "tcp"}
	for _, p := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", p)
		}
		params[k] = v
	}
	return fmt.Sprintf("%s:%s/%s", params["published"], params["target"], params["protocol"]), nil
}

// splitProtoPort splits PORT[/PROTO] (tcp by default).
func splitProtoPort(s string) (proto, port string) {
	parts := strings.Split(s, "/")
	switch {
	case s == "" || parts[0] == "":
		return "", ""
	case len(parts) == 1:
		return "tcp", s
	case parts[1] == "":
		return "tcp", parts[0]
	}
	return parts[1], parts[0]
}

// parsePortRange reads START[-END], with strconv's errors.
func parsePortRange(s string) (uint64, uint64, error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	if !strings.Contains(s, "-") {
		n, err := strconv.ParseUint(s, 10, 16)
		return n, n, err
	}
	parts := strings.Split(s, "-")
	start, err := strconv.ParseUint(parts[0], 10, 16)
	if err != nil {
		return 0, 0, err
	}
	end, err := strconv.ParseUint(parts[1], 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, fmt.Errorf("invalid range specified for port: %s", s)
	}
	return start, end, nil
}

// parsePortSpec reads one -p: [IP:][HOSTPORT:]CONTAINERPORT[/PROTO],
// where the ports may be ranges (of one length, or a host range for one
// container port: the daemon picks one of it), and IP may be an IPv6
// address in brackets; the long syntax is taken too. It has the docker
// CLI's (go-connections nat's) rules and messages.
func parsePortSpec(raw string) ([]portMapping, error) {
	raw, err := publishToStandard(raw)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(raw, ":")
	var ip, hostPort, containerPort string
	switch n := len(parts); n {
	case 1:
		containerPort = parts[0]
	case 2:
		hostPort, containerPort = parts[0], parts[1]
	default:
		ip, hostPort, containerPort = strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
	proto, containerPort := splitProtoPort(containerPort)
	if ip != "" && ip[0] == '[' {
		host, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
		ip = host
	}
	var hostIP netip.Addr
	if ip != "" {
		if net.ParseIP(ip) == nil {
			return nil, fmt.Errorf("invalid IP address: %s", ip)
		}
		if hostIP, err = netip.ParseAddr(ip); err != nil {
			return nil, fmt.Errorf("invalid IP address: %s", ip)
		}
	}
	if containerPort == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", raw)
	}
	start, end, err := parsePortRange(containerPort)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", containerPort)
	}
	var hostStart, hostEnd uint64
	if hostPort != "" {
		if hostStart, hostEnd, err = parsePortRange(hostPort); err != nil {
			return nil, fmt.Errorf("invalid hostPort: %s", hostPort)
		}
		if end-start != hostEnd-hostStart && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	var out []portMapping
	for i := uint64(0); i <= end-start; i++ {
		hp := ""
		if hostPort != "" {
			hp = strconv.FormatUint(hostStart+i, 10)
		}
		if start == end && hostStart != hostEnd {
			hp += "-" + strconv.FormatUint(hostEnd, 10)
		}
		p, _ := network.PortFrom(uint16(start+i), network.IPProtocol(proto))
		out = append(out, portMapping{port: p, binding: network.PortBinding{HostIP: hostIP, HostPort: hp}})
	}
	return out, nil
}

// parsePorts reads -p and --expose into the exposed ports and the
// bindings of a create request.
func parsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range publish {
		ms, err := parsePortSpec(p)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range ms {
			exposed[m.port] = struct{}{}
			bindings[m.port] = append(bindings[m.port], m.binding)
		}
	}
	for _, e := range expose {
		if strings.Contains(e, ":") {
			return nil, nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		proto, port := splitProtoPort(e)
		start, end, err := parsePortRange(port)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
		}
		for i := start; i <= end; i++ {
			p, _ := network.PortFrom(uint16(i), network.IPProtocol(proto))
			exposed[p] = struct{}{}
		}
	}
	return exposed, bindings, nil
}

func (cl *cli) newPortCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			info, _, err := c.ContainerInspect(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var ports network.PortMap
			if info.NetworkSettings != nil {
				ports = info.NetworkSettings.Ports
			}
			want := ""
			if len(args) == 2 {
				want = args[1]
			}
			lines, err := portLines(ports, args[0], want)
			if err != nil {
				return err
			}
			if len(lines) > 0 {
				fmt.Fprintln(out(cmd), strings.Join(lines, "\n"))
			}
			return nil
		},
	}
}

// portLines is what `port` prints: every published port as
// "80/tcp -> 0.0.0.0:8080" ("[::]:8080" for IPv6), or the host addresses
// of the port want, in the docker CLI's natural order.
func portLines(ports network.PortMap, ctr, want string) ([]string, error) {
	var out []string
	if want != "" {
		port, proto, _ := strings.Cut(want, "/")
		if proto == "" {
			proto = "tcp"
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return nil, fmt.Errorf("Error: invalid port (%s): %w", port, err)
		}
		// Compared as text, as the docker CLI looks the key up: "80/TCP"
		// is not "80/tcp".
		key := port + "/" + proto
		var bindings []network.PortBinding
		for p, b := range ports {
			if p.String() == key {
				bindings = b
			}
		}
		if len(bindings) == 0 {
			return nil, fmt.Errorf("Error: No public port '%s' published for %s", want, ctr)
		}
		for _, b := range bindings {
			out = append(out, hostPortString(b))
		}
	} else {
		for p, bindings := range ports {
			for _, b := range bindings {
				out = append(out, p.String()+" -> "+hostPortString(b))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return naturalOrderLess(out[i], out[j]) })
	return out, nil
}

// hostPortString is a binding's IP:PORT, [IP]:PORT for IPv6.
func hostPortString(b network.PortBinding) string {
	ip := ""
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	return net.JoinHostPort(ip, b.HostPort)
}

// naturalOrderLess is the docker CLI's sort order (fvbommel/sortorder's
// NaturalLess): digit runs compare as numbers, and a digit sorts before
// any other byte.
func naturalOrderLess(a, b string) bool {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		da, db := isDigit(ca), isDigit(cb)
		switch {
		case da != db:
			return da
		case !da:
			if ca != cb {
				return ca < cb
			}
			i++
			j++
		default:
			for i < len(a) && a[i] == '0' {
				i++
			}
			for j < len(b) && b[j] == '0' {
				j++
			}
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			if la, lb := i-si, j-sj; la != lb {
				return la < lb
			}
			if na, nb := a[si:i], b[sj:j]; na != nb {
				return na < nb
			}
			if si != sj {
				return si < sj
			}
		}
	}
	return len(a) < len(b)
}
