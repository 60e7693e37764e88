package compose

import (
	"net/netip"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// networkRequest is the create request of project network key, labelled
// as Compose labels it.
func networkRequest(p *types.Project, key string, n types.NetworkConfig) (network.CreateRequest, error) {
	labels := copyLabels(n.Labels)
	for k, v := range n.CustomLabels {
		labels[k] = v
	}
	labels[LabelNetwork] = key
	labels[LabelProject] = p.Name
	labels[LabelVersion] = Version
	req := network.CreateRequest{
		Name:       n.Name,
		Driver:     n.Driver,
		Options:    n.DriverOpts,
		Internal:   n.Internal,
		Attachable: n.Attachable,
		EnableIPv4: n.EnableIPv4,
		EnableIPv6: n.EnableIPv6,
		Labels:     labels,
	}
	if n.Ipam.Driver != "" || len(n.Ipam.Config) > 0 {
		ipam := &network.IPAM{Driver: n.Ipam.Driver, Options: n.Ipam.Options}
		for _, pool := range n.Ipam.Config {
			cfg := network.IPAMConfig{}
			if pool.Subnet != "" {
				pfx, err := netip.ParsePrefix(pool.Subnet)
				if err != nil {
					return req, invalidf("network %s: invalid subnet %q", key, pool.Subnet)
				}
				cfg.Subnet = pfx
			}
			if pool.IPRange != "" {
				pfx, err := netip.ParsePrefix(pool.IPRange)
				if err != nil {
					return req, invalidf("network %s: invalid ip_range %q", key, pool.IPRange)
				}
				cfg.IPRange = pfx
			}
			if pool.Gateway != "" {
				gw, err := netip.ParseAddr(pool.Gateway)
				if err != nil {
					return req, invalidf("network %s: invalid gateway %q", key, pool.Gateway)
				}
				cfg.Gateway = gw
			}
			if len(pool.AuxiliaryAddresses) > 0 {
				cfg.AuxAddress = map[string]netip.Addr{}
				for name, a := range pool.AuxiliaryAddresses {
					addr, err := netip.ParseAddr(a)
					if err != nil {
						return req, invalidf("network %s: invalid aux address %q", key, a)
					}
					cfg.AuxAddress[name] = addr
				}
			}
			ipam.Config = append(ipam.Config, cfg)
		}
		req.IPAM = ipam
	}
	return req, nil
}

// volumeRequest is the create request of project volume key, labelled as
// Compose labels it.
func volumeRequest(p *types.Project, key string, v types.VolumeConfig) volume.CreateRequest {
	labels := copyLabels(v.Labels)
	for k, val := range v.CustomLabels {
		labels[k] = val
	}
	labels[LabelVolume] = key
	labels[LabelProject] = p.Name
	labels[LabelVersion] = Version
	return volume.CreateRequest{Name: v.Name, Driver: v.Driver, DriverOpts: v.DriverOpts, Labels: labels}
}
