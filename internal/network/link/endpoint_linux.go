package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// AddEndpoint plumbs ep: a veth pair whose host side ep.HostIfName joins
// the bridge ep.Bridge in the calling thread's namespace, and whose
// container side is created directly inside the netns at ep.NetNS as
// ep.IfName (so it never holds a temporary name, nor clashes with a host
// device). The container side gets ep.MAC, ep.MTU and ep.Addrs, is
// brought up, and gets default routes through ep.Gateways when
// ep.DefaultRoute; lo is brought up there too.
//
// A missing bridge or netns is an ErrNotFound error, a host name or
// container name already in use an ErrAlreadyExists error. When a step
// fails after the pair was made, the host side is deleted, which deletes
// the container side with its addresses and routes.
func AddEndpoint(ctx context.Context, ep Endpoint) (err error) {
	if err := checkEndpoint(ep); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := hostHandle()
	if err != nil {
		return err
	}
	defer h.Close()

	br, err := linkByName(h, ep.Bridge)
	if err != nil {
		return err
	}
	if br == nil {
		return fmt.Errorf("bridge %s: %w", ep.Bridge, errdefs.ErrNotFound)
	}
	if br.Type() != "bridge" {
		return fmt.Errorf("link %s is a %s, not a bridge: %w", ep.Bridge, br.Type(), errdefs.ErrInvalidArgument)
	}
	if l, err := linkByName(h, ep.HostIfName); err != nil {
		return err
	} else if l != nil {
		return fmt.Errorf("link %s: %w", ep.HostIfName, errdefs.ErrAlreadyExists)
	}

	ns, err := netns.GetFromPath(ep.NetNS)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("netns %s: %w", ep.NetNS, errdefs.ErrNotFound)
		}
		return fmt.Errorf("open netns %s: %w", ep.NetNS, err)
	}
	defer ns.Close()
	c, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open netlink socket in netns %s: %w", ep.NetNS, err)
	}
	defer c.Close()

	attrs := netlink.NewLinkAttrs()
	attrs.Name = ep.HostIfName
	attrs.MTU = ep.MTU
	veth := &netlink.Veth{
		LinkAttrs:        attrs,
		PeerName:         ep.IfName,
		PeerHardwareAddr: ep.MAC,
		PeerNamespace:    netlink.NsFd(ns),
		PeerTxQLen:       -1,
	}
	if err := h.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create veth pair %s/%s: %w", ep.HostIfName, ep.IfName, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("create veth pair %s/%s: %w", ep.HostIfName, ep.IfName, err)
	}
	defer func() {
		if err == nil {
			return
		}
		if derr := deleteLink(h, ep.HostIfName); derr != nil {
			err = errors.Join(err, fmt.Errorf("clean up veth %s: %w", ep.HostIfName, derr))
		}
	}()

	host, err := h.LinkByName(ep.HostIfName)
	if err != nil {
		return fmt.Errorf("find veth %s: %w", ep.HostIfName, err)
	}
	if err := h.LinkSetMaster(host, br); err != nil {
		return fmt.Errorf("attach %s to bridge %s: %w", ep.HostIfName, ep.Bridge, err)
	}
	if ep.Hairpin {
		if err := h.LinkSetHairpin(host, true); err != nil {
			return fmt.Errorf("set hairpin mode on %s: %w", ep.HostIfName, err)
		}
	}
	if err := h.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring %s up: %w", ep.HostIfName, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := configureContainerSide(c, ep); err != nil {
		return fmt.Errorf("configure %s in netns %s: %w", ep.IfName, ep.NetNS, err)
	}
	return nil
}

// configureContainerSide sets up the container side of ep through c, a
// handle in the container's namespace.
func configureContainerSide(c *netlink.Handle, ep Endpoint) error {
	if err := setLoUp(c); err != nil {
		return err
	}
	l, err := c.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("find link: %w", err)
	}
	v6 := false
	for _, p := range ep.Addrs {
		v6 = v6 || p.Addr().Is6()
	}
	// As Docker: IPv6 on the interface if and only if it has an IPv6
	// address, so an IPv4-only container side joins no IPv6 multicast
	// groups and takes no router advertisements.
	if v6 || ipv6Supported() {
		value := "1"
		if v6 {
			value = "0"
		}
		if err := InNetNS(ep.NetNS, func() error { return setSysctl(value, "ipv6", "conf", ep.IfName, "disable_ipv6") }); err != nil {
			return fmt.Errorf("set IPv6 on or off: %w", err)
		}
	}
	for _, p := range ep.Addrs {
		if err := c.AddrAdd(l, netAddr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add address %s: %w", p, err)
		}
	}
	if err := c.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up: %w", err)
	}
	if !ep.DefaultRoute {
		return nil
	}
	for _, gw := range ep.Gateways {
		dst := netip.IPv4Unspecified()
		if gw.Is6() {
			dst = netip.IPv6Unspecified()
		}
		r := &netlink.Route{
			LinkIndex: l.Attrs().Index,
			Dst:       &net.IPNet{IP: dst.AsSlice(), Mask: net.CIDRMask(0, dst.BitLen())},
			Gw:        gw.AsSlice(),
		}
		if err := c.RouteReplace(r); err != nil {
			return fmt.Errorf("add default route via %s: %w", gw, err)
		}
	}
	return nil
}

func checkEndpoint(ep Endpoint) error {
	if err := checkIfName("veth", ep.HostIfName); err != nil {
		return err
	}
	if err := checkIfName("container interface", ep.IfName); err != nil {
		return err
	}
	if err := checkIfName("bridge", ep.Bridge); err != nil {
		return err
	}
	if ep.NetNS == "" {
		return fmt.Errorf("endpoint %s has no netns: %w", ep.HostIfName, errdefs.ErrInvalidArgument)
	}
	if ep.MAC != nil && (len(ep.MAC) != 6 || ep.MAC[0]&1 != 0) {
		return fmt.Errorf("MAC address %s is not a unicast Ethernet address: %w", ep.MAC, errdefs.ErrInvalidArgument)
	}
	if err := checkPrefixes("endpoint", ep.Addrs); err != nil {
		return err
	}
	for _, gw := range ep.Gateways {
		if !gw.IsValid() || gw.Zone() != "" || gw.Is4In6() || gw.IsUnspecified() {
			return fmt.Errorf("gateway %s: %w", gw, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// RemoveEndpoint deletes the veth whose host side is hostIfName, in the
// calling thread's namespace; the container side goes with it. A missing
// link is not an error; a link of that name that is not a veth is an
// ErrConflict error and is left alone.
func RemoveEndpoint(hostIfName string) error {
	return deleteTyped("veth", hostIfName)
}

// EndpointExists says whether a link named hostIfName exists in the
// calling thread's namespace.
func EndpointExists(hostIfName string) (bool, error) {
	if err := checkIfName("veth", hostIfName); err != nil {
		return false, err
	}
	h, err := hostHandle()
	if err != nil {
		return false, err
	}
	defer h.Close()
	l, err := linkByName(h, hostIfName)
	return l != nil, err
}

// deleteLink deletes the link called name, if there is one.
func deleteLink(h *netlink.Handle, name string) error {
	l, err := linkByName(h, name)
	if err != nil || l == nil {
		return err
	}
	if err := h.LinkDel(l); err != nil && !isLinkNotFound(err) {
		return err
	}
	return nil
}
