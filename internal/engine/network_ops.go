package engine

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/filters"
	shoalnet "github.com/shoal-dev/shoal/internal/network"
	"github.com/shoal-dev/shoal/internal/network/ipam"
)

func (e *Engine) networks() (Networks, error) {
	if e.cfg.Networks == nil {
		return nil, fmt.Errorf("networks are not available in this daemon: %w", errdefs.ErrNotImplemented)
	}
	return e.cfg.Networks, nil
}

// NetworkCreate is docker network create.
func (e *Engine) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	nm, err := e.networks()
	if err != nil {
		return network.CreateResponse{}, err
	}
	if req.Scope != "" && req.Scope != "local" {
		return network.CreateResponse{}, fmt.Errorf("scope %q is not supported by a single host: %w", req.Scope, errdefs.ErrInvalidArgument)
	}
	if req.ConfigOnly || req.ConfigFrom != nil || req.Ingress {
		return network.CreateResponse{}, fmt.Errorf("config-only, config-from and ingress networks are not supported by Shoal: %w", errdefs.ErrInvalidArgument)
	}
	cr := shoalnet.CreateRequest{Name: req.Name, Driver: req.Driver, IPv4: req.EnableIPv4, IPv6: req.EnableIPv6,
		Internal: req.Internal, Attachable: req.Attachable, Labels: req.Labels, Options: req.Options}
	if req.IPAM != nil {
		cr.IPAMDriver = req.IPAM.Driver
		if len(req.IPAM.Options) > 0 {
			return network.CreateResponse{}, fmt.Errorf("IPAM options are not supported by the default IPAM driver: %w", errdefs.ErrInvalidArgument)
		}
		for _, c := range req.IPAM.Config {
			aux := map[string]string{}
			for k, v := range c.AuxAddress {
				aux[k] = v.String()
			}
			var rng, gw string
			if c.IPRange.IsValid() {
				rng = c.IPRange.String()
			}
			if c.Gateway.IsValid() {
				gw = c.Gateway.String()
			}
			if !c.Subnet.IsValid() {
				if rng != "" || gw != "" || len(aux) > 0 {
					return network.CreateResponse{}, fmt.Errorf("invalid IPAM config: an ip-range, gateway or aux address needs a subnet: %w", errdefs.ErrInvalidArgument)
				}
				continue
			}
			p, err := ipam.ParsePool(c.Subnet.String(), rng, gw, aux)
			if err != nil {
				return network.CreateResponse{}, err
			}
			cr.Pools = append(cr.Pools, p)
		}
	}
	n, err := nm.Create(ctx, cr)
	if err != nil {
		return network.CreateResponse{}, err
	}
	e.cfg.Events.Publish(eventsNetwork(n, "create", nil))
	return network.CreateResponse{ID: n.ID}, nil
}

// NetworkInspect is docker network inspect.
func (e *Engine) NetworkInspect(ctx context.Context, ref string) (network.Inspect, error) {
	nm, err := e.networks()
	if err != nil {
		return network.Inspect{}, err
	}
	n, err := nm.Get(ctx, ref)
	if err != nil {
		return network.Inspect{}, err
	}
	out := network.Inspect{Network: apiNetwork(n), Containers: map[string]network.EndpointResource{}}
	for _, c := range e.list() {
		rec := c.snapshot()
		if _, ok := rec.Networks[n.Name]; !ok && !(n.Driver != shoalnet.DriverBridge && string(rec.HostConfig.NetworkMode) == n.Name) {
			continue
		}
		if rec.State.Status != StatusRunning && rec.State.Status != StatusPaused {
			continue
		}
		res := network.EndpointResource{Name: strings.TrimPrefix(rec.Name, "/")}
		if sb, ok := nm.Sandbox(rec.ID); ok {
			for _, ep := range sb.Endpoints {
				if ep.NetworkID != n.ID {
					continue
				}
				res.EndpointID = ep.EndpointID
				if mac, err := net.ParseMAC(ep.MAC); err == nil {
					res.MacAddress = network.HardwareAddr(mac)
				}
				res.IPv4Address, res.IPv6Address = ep.IPv4, ep.IPv6
			}
		}
		out.Containers[rec.ID] = res
	}
	return out, nil
}

// apiNetwork is a network as the API shows it.
func apiNetwork(n *shoalnet.Network) network.Network {
	out := network.Network{Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: n.IPv4, EnableIPv6: n.IPv6, Internal: n.Internal, Attachable: n.Attachable,
		IPAM:    network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
		Options: n.Options, Labels: n.Labels}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	for _, s := range n.Subnets {
		out.IPAM.Config = append(out.IPAM.Config, network.IPAMConfig{Subnet: s.Subnet, IPRange: s.IPRange, Gateway: s.Gateway, AuxAddress: s.Aux})
	}
	return out
}

var networkFilters = map[string]bool{"name": true, "id": true, "driver": true, "label": true, "type": true, "scope": true, "dangling": true}

// NetworkList is docker network ls.
func (e *Engine) NetworkList(ctx context.Context, f filters.Args) ([]network.Summary, error) {
	nm, err := e.networks()
	if err != nil {
		return nil, err
	}
	if err := f.Validate(networkFilters); err != nil {
		return nil, err
	}
	dangling, err := f.GetBoolOrDefault("dangling", false)
	if err != nil {
		return nil, err
	}
	for _, t := range f.Get("type") {
		if t != "custom" && t != "builtin" {
			return nil, fmt.Errorf("invalid filter: 'type'='%s': %w", t, errdefs.ErrInvalidArgument)
		}
	}
	out := []network.Summary{}
	for _, n := range nm.List(ctx) {
		builtin := n.Default || n.Driver != shoalnet.DriverBridge
		switch {
		case f.Contains("name") && !f.Match("name", n.Name):
			continue
		case f.Contains("id") && !f.FuzzyMatch("id", n.ID):
			continue
		case f.Contains("driver") && !f.ExactMatch("driver", n.Driver):
			continue
		case !f.MatchKVList("label", n.Labels):
			continue
		case f.Contains("type") && !f.ExactMatch("type", map[bool]string{true: "builtin", false: "custom"}[builtin]):
			continue
		case f.Contains("scope") && !f.ExactMatch("scope", "local"):
			continue
		case f.Contains("dangling") && (dangling != (!builtin && !e.networkUsed(n))):
			continue
		}
		out = append(out, network.Summary{Network: apiNetwork(n)})
	}
	return out, nil
}

// networkUsed says whether any container (running or not) names n.
func (e *Engine) networkUsed(n *shoalnet.Network) bool {
	for _, c := range e.list() {
		rec := c.snapshot()
		if _, ok := rec.Networks[n.Name]; ok {
			return true
		}
	}
	return false
}

// NetworkRemove is docker network rm.
func (e *Engine) NetworkRemove(ctx context.Context, ref string) error {
	nm, err := e.networks()
	if err != nil {
		return err
	}
	n, err := nm.Get(ctx, ref)
	if err != nil {
		return err
	}
	if err := nm.Remove(ctx, n.ID); err != nil {
		return err
	}
	e.cfg.Events.Publish(eventsNetwork(n, "destroy", nil))
	return nil
}

// NetworkPrune is docker network prune: user-defined networks no
// running container uses.
func (e *Engine) NetworkPrune(ctx context.Context, f filters.Args) (network.PruneReport, error) {
	rep := network.PruneReport{NetworksDeleted: []string{}}
	nm, err := e.networks()
	if err != nil {
		return rep, err
	}
	if err := f.Validate(map[string]bool{"until": true, "label": true, "label!": true}); err != nil {
		return rep, err
	}
	var until time.Time
	if u := f.Get("until"); len(u) > 0 {
		if until, err = parseUntil(u[0]); err != nil {
			return rep, err
		}
	}
	for _, n := range nm.List(ctx) {
		if n.Default || n.Driver != shoalnet.DriverBridge || nm.InUse(n.ID) > 0 {
			continue
		}
		if !until.IsZero() && !n.Created.Before(until) {
			continue
		}
		if !f.MatchKVList("label", n.Labels) || matchesNegLabels(f, n.Labels) {
			continue
		}
		if err := nm.Remove(ctx, n.ID); err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsPermissionDenied(err) {
				continue
			}
			return rep, err
		}
		e.cfg.Events.Publish(eventsNetwork(n, "destroy", nil))
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	return rep, nil
}

func matchesNegLabels(f filters.Args, labels map[string]string) bool {
	for _, want := range f.Get("label!") {
		k, v, hasV := strings.Cut(want, "=")
		if got, ok := labels[k]; ok && (!hasV || got == v) {
			return true
		}
	}
	return false
}

// connectTarget finds the network and the container of a connect or
// disconnect and takes the container's busy lock, which the caller
// releases.
func (e *Engine) connectTarget(ctx context.Context, ref, ctrRef string) (Networks, *shoalnet.Network, *ctr, error) {
	nm, err := e.networks()
	if err != nil {
		return nil, nil, nil, err
	}
	n, err := nm.Get(ctx, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := e.lookup(ctrRef)
	if err != nil {
		return nil, nil, nil, err
	}
	c.busy.Lock()
	return nm, n, c, nil
}

// NetworkConnect is docker network connect.
func (e *Engine) NetworkConnect(ctx context.Context, ref, ctrRef string, s *network.EndpointSettings) error {
	nm, n, c, err := e.connectTarget(ctx, ref, ctrRef)
	if err != nil {
		return err
	}
	defer c.busy.Unlock()
	rec := c.snapshot()
	mode := rec.HostConfig.NetworkMode
	if !n.IsBridge() || mode.IsHost() {
		return fmt.Errorf("container cannot be disconnected from host network or connected to host network: %w", errdefs.ErrPermissionDenied)
	}
	if mode.IsNone() || mode.IsContainer() {
		return fmt.Errorf("container cannot be connected to multiple networks with one of the networks in private (none) mode: %w", errdefs.ErrPermissionDenied)
	}
	if _, ok := rec.Networks[n.Name]; ok {
		return fmt.Errorf("endpoint with name %s already exists in network %s: %w", strings.TrimPrefix(rec.Name, "/"), n.Name, errdefs.ErrPermissionDenied)
	}
	ec := &endpointConfig{NetworkID: n.ID}
	if s != nil {
		ec.Aliases, ec.Links = append([]string(nil), s.Aliases...), append([]string(nil), s.Links...)
		if s.IPAMConfig != nil {
			ec.IPv4, ec.IPv6 = s.IPAMConfig.IPv4Address, s.IPAMConfig.IPv6Address
			if err := checkEndpointAddr(n, ec.IPv4, ec.IPv6); err != nil {
				return err
			}
		}
		if len(s.MacAddress) > 0 {
			ec.MAC = s.MacAddress.String()
		}
	}
	if n.Default && len(ec.Aliases) > 0 {
		return fmt.Errorf("network-scoped alias is supported only for containers in user defined networks: %w", errdefs.ErrInvalidArgument)
	}
	if rec.State.Status == StatusRunning || rec.State.Status == StatusPaused {
		if _, err := nm.Connect(ctx, rec.ID, strings.TrimPrefix(rec.Name, "/"), shoalnet.EndpointRequest{
			Network: n.ID, Aliases: ec.Aliases, IPv4: ec.IPv4, IPv6: ec.IPv6, MAC: ec.MAC, Links: ec.Links}); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if c.rec.Networks == nil {
		c.rec.Networks = map[string]*endpointConfig{}
	}
	c.rec.Networks[n.Name] = ec
	err = e.save(ctx, c)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	e.cfg.Events.Publish(eventsNetwork(n, "connect", map[string]string{"container": rec.ID}))
	return nil
}

// NetworkDisconnect is docker network disconnect.
func (e *Engine) NetworkDisconnect(ctx context.Context, ref, ctrRef string, force bool) error {
	nm, n, c, err := e.connectTarget(ctx, ref, ctrRef)
	if err != nil {
		return err
	}
	defer c.busy.Unlock()
	rec := c.snapshot()
	if !n.IsBridge() {
		return fmt.Errorf("container cannot be disconnected from host network or connected to host network: %w", errdefs.ErrPermissionDenied)
	}
	if _, ok := rec.Networks[n.Name]; !ok {
		return fmt.Errorf("container %s is not connected to network %s: %w", ShortID(rec.ID), n.Name, errdefs.ErrPermissionDenied)
	}
	if rec.State.Status == StatusRunning || rec.State.Status == StatusPaused {
		if err := nm.Disconnect(ctx, rec.ID, n.ID); err != nil && !force {
			return err
		}
	}
	c.mu.Lock()
	delete(c.rec.Networks, n.Name)
	err = e.save(ctx, c)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	e.cfg.Events.Publish(eventsNetwork(n, "disconnect", map[string]string{"container": rec.ID}))
	return nil
}

// eventsNetwork is a network event as dockerd sends it.
func eventsNetwork(n *shoalnet.Network, action string, extra map[string]string) events.Message {
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	for k, v := range extra {
		attrs[k] = v
	}
	return events.Message{Type: events.NetworkEventType, Action: events.Action(action),
		Actor: events.Actor{ID: n.ID, Attributes: attrs}, Scope: "local"}
}
