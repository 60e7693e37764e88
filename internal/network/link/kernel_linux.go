package link

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// dumpRetries bounds the retries of a netlink dump the kernel reports as
// interrupted (the table changed while it was read).
const dumpRetries = 5

// checkIfName reports whether name can name a network device.
func checkIfName(what, name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("%s name %q: %w", what, name, errdefs.ErrInvalidArgument)
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("%s name %q is longer than %d bytes: %w", what, name, unix.IFNAMSIZ-1, errdefs.ErrInvalidArgument)
	case strings.ContainsAny(name, "/: \t\n\x00"):
		return fmt.Errorf("%s name %q has a character a device name may not: %w", what, name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// hostHandle opens a netlink handle in the calling thread's namespace.
func hostHandle() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}
	return h, nil
}

// isLinkNotFound says whether err means "no such link".
func isLinkNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// linkByName returns the link called name, or nil if there is none.
func linkByName(h *netlink.Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if isLinkNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find link %s: %w", name, err)
	}
	return l, nil
}

// addrList lists a link's addresses, retrying interrupted dumps.
func addrList(h *netlink.Handle, l netlink.Link) ([]netlink.Addr, error) {
	for i := 0; ; i++ {
		addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
		if errors.Is(err, netlink.ErrDumpInterrupted) && i < dumpRetries {
			continue
		}
		return addrs, err
	}
}

// ListLinks returns the names of the links in the calling thread's
// namespace that start with prefix, sorted as the kernel lists them.
func ListLinks(prefix string) ([]string, error) {
	h, err := hostHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var links []netlink.Link
	for i := 0; ; i++ {
		links, err = h.LinkList()
		if errors.Is(err, netlink.ErrDumpInterrupted) && i < dumpRetries {
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []string
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out, nil
}

// netAddr converts a prefix (an address with its subnet's length) to the
// netlink form.
func netAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// prefixOf converts a netlink address back.
func prefixOf(a netlink.Addr) (netip.Prefix, bool) {
	if a.IPNet == nil {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := a.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), ones), true
}

// checkPrefixes checks that every prefix holds a usable host address.
func checkPrefixes(what string, ps []netip.Prefix) error {
	for _, p := range ps {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() || p.Addr().IsUnspecified() {
			return fmt.Errorf("%s address %s: %w", what, p, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

const procSysNet = "/proc/sys/net"

// setSysctl makes the sysctl at /proc/sys/net/<key...> of the calling
// thread's namespace hold value, writing only when it does not already.
func setSysctl(value string, key ...string) error {
	path := filepath.Join(append([]string{procSysNet}, key...)...)
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if string(bytes.TrimSpace(cur)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ipv6Supported says whether the calling thread's namespace has IPv6 at
// all (a kernel booted with ipv6.disable=1 has no /proc/sys/net/ipv6).
func ipv6Supported() bool {
	_, err := os.Stat(filepath.Join(procSysNet, "ipv6"))
	return err == nil
}

// EnableForwarding turns on packet forwarding in the calling thread's
// namespace: net.ipv4.ip_forward=1 when v4, and
// net.ipv6.conf.all.forwarding=1 when v6.
func EnableForwarding(v4, v6 bool) error {
	if v4 {
		if err := setSysctl("1", "ipv4", "ip_forward"); err != nil {
			return fmt.Errorf("enable IPv4 forwarding: %w", err)
		}
	}
	if v6 {
		if err := setSysctl("1", "ipv6", "conf", "all", "forwarding"); err != nil {
			return fmt.Errorf("enable IPv6 forwarding: %w", err)
		}
	}
	return nil
}
