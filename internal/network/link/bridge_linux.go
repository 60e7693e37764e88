package link

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// EnsureBridge makes the bridge b.Name in the calling thread's namespace
// match b: it creates it if missing, sets its MTU and sysctls, adds the
// addresses of b.Addrs it lacks, removes the others (but IPv6 link-local
// ones) and brings it up. A link of that name that is not a bridge is an
// ErrConflict error.
func EnsureBridge(ctx context.Context, b Bridge) error {
	if err := checkIfName("bridge", b.Name); err != nil {
		return err
	}
	if err := checkPrefixes("bridge", b.Addrs); err != nil {
		return err
	}
	for _, p := range b.Addrs {
		if p.Addr().Is6() && !b.IPv6 {
			return fmt.Errorf("bridge %s: IPv6 address %s on a bridge without IPv6: %w", b.Name, p, errdefs.ErrInvalidArgument)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	h, err := hostHandle()
	if err != nil {
		return err
	}
	defer h.Close()

	l, err := linkByName(h, b.Name)
	if err != nil {
		return err
	}
	if l == nil {
		// A MAC given at creation is "set by the user": the kernel then
		// keeps it instead of taking the lowest MAC of the ports, which
		// would change the gateway's MAC as containers come and go.
		attrs := netlink.NewLinkAttrs()
		attrs.Name = b.Name
		attrs.MTU = b.MTU
		attrs.HardwareAddr = RandomMAC()
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create bridge %s: %w", b.Name, err)
		}
		if l, err = h.LinkByName(b.Name); err != nil {
			return fmt.Errorf("find bridge %s: %w", b.Name, err)
		}
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("link %s is a %s, not a bridge: %w", b.Name, l.Type(), errdefs.ErrConflict)
	}
	if b.MTU > 0 && l.Attrs().MTU != b.MTU {
		if err := h.LinkSetMTU(l, b.MTU); err != nil {
			return fmt.Errorf("set MTU of bridge %s to %d: %w", b.Name, b.MTU, err)
		}
	}
	if b.IPv6 {
		// Before the addresses: a kernel whose default is IPv6 off would
		// refuse them.
		if err := setSysctl("0", "ipv6", "conf", b.Name, "disable_ipv6"); err != nil {
			return fmt.Errorf("enable IPv6 on bridge %s: %w", b.Name, err)
		}
		if err := setSysctl("0", "ipv6", "conf", b.Name, "accept_dad"); err != nil {
			return fmt.Errorf("turn off DAD on bridge %s: %w", b.Name, err)
		}
	}
	if b.RouteLocalnet {
		if err := setSysctl("1", "ipv4", "conf", b.Name, "route_localnet"); err != nil {
			return fmt.Errorf("set route_localnet on bridge %s: %w", b.Name, err)
		}
	}
	if err := syncAddrs(h, l, b); err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("bring bridge %s up: %w", b.Name, err)
		}
	}
	return nil
}

// syncAddrs makes the addresses on l those of b.Addrs, leaving the IPv6
// link-local addresses the kernel manages.
func syncAddrs(h *netlink.Handle, l netlink.Link, b Bridge) error {
	have, err := addrList(h, l)
	if err != nil {
		return fmt.Errorf("list addresses of bridge %s: %w", b.Name, err)
	}
	present := make(map[string]bool)
	for _, a := range have {
		p, ok := prefixOf(a)
		if !ok {
			continue
		}
		if slices.Contains(b.Addrs, p) {
			present[p.String()] = true
			continue
		}
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if err := h.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("remove address %s from bridge %s: %w", p, b.Name, err)
		}
	}
	for _, p := range b.Addrs {
		if present[p.String()] {
			continue
		}
		if err := h.AddrAdd(l, netAddr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add address %s to bridge %s: %w", p, b.Name, err)
		}
	}
	return nil
}

// DeleteBridge deletes the bridge name from the calling thread's
// namespace; its ports are detached, not deleted. A missing bridge is not
// an error; a link of that name that is not a bridge is an ErrConflict
// error and is left alone.
func DeleteBridge(name string) error {
	return deleteTyped("bridge", name)
}

// deleteTyped deletes the link name of type typ from the calling
// thread's namespace. A missing link is not an error; a link of that
// name and another type is an ErrConflict error and is left alone.
func deleteTyped(typ, name string) error {
	if err := checkIfName(typ, name); err != nil {
		return err
	}
	h, err := hostHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := linkByName(h, name)
	if err != nil || l == nil {
		return err
	}
	if l.Type() != typ {
		return fmt.Errorf("link %s is a %s, not a %s: %w", name, l.Type(), typ, errdefs.ErrConflict)
	}
	if err := h.LinkDel(l); err != nil && !isLinkNotFound(err) {
		return fmt.Errorf("delete %s %s: %w", typ, name, err)
	}
	return nil
}
