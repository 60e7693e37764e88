package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// tagPrefix starts every tag. Its version changes whenever the rules
// generated for the same tag change, so that Apply replaces rules made by
// an older Shoal.
const tagPrefix = "shoal/1 "

// maxTag is the longest tag that fits a rule's user data: the kernel
// keeps at most 256 bytes, and the comment TLV takes a type byte, a
// length byte and a NUL.
const maxTag = 253

// commentType is libnftnl's NFTNL_UDATA_RULE_COMMENT: nft list ruleset
// shows a tag as the rule's comment.
const commentType = 0

// Rule kinds.
const (
	kindBase = "base"
	kindNet  = "net"
	kindPort = "port"
)

// tag is the parsed UserData of one of Shoal's rules.
type tag struct {
	kind string
	role string  // for base and net
	net  Network // for net
	port Port    // for port
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func baseTag(role string) string { return tagPrefix + kindBase + " " + role }

// netTag is the tag of the network rule with role r: the network's whole
// spec, so that any of its rules tells what the network is, and a change
// of spec changes every tag.
func netTag(n Network, role string) string {
	subs := make([]string, len(n.Subnets))
	for i, s := range n.Subnets {
		subs[i] = s.String()
	}
	return fmt.Sprintf("%s%s %s br=%s int=%s masq=%s icc=%s sub=%s", tagPrefix, kindNet, role, n.Bridge,
		boolField(n.Internal), boolField(n.Masquerade), boolField(n.ICC), strings.Join(subs, ","))
}

func portTag(p Port) string {
	host := "*"
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
	}
	return fmt.Sprintf("%s%s owner=%s proto=%s hostip=%s hostport=%d ctrip=%s ctrport=%d br=%s", tagPrefix, kindPort,
		p.Owner, p.Proto, host, p.HostPort, p.ContainerIP, p.ContainerPort, p.Bridge)
}

// checkTag fails when t does not fit a rule's user data.
func checkTag(t string) error {
	if len(t) > maxTag {
		return fmt.Errorf("rule tag %q is %d bytes, more than %d (too many subnets or too long an owner?): %w",
			t, len(t), maxTag, errdefs.ErrInvalidArgument)
	}
	return nil
}

// encodeUserData wraps t in a comment TLV, as nft does.
func encodeUserData(t string) []byte {
	b := make([]byte, 0, len(t)+3)
	b = append(b, commentType, byte(len(t)+1))
	b = append(b, t...)
	return append(b, 0)
}

// decodeUserData returns the comment in ud, if any.
func decodeUserData(ud []byte) (string, bool) {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return "", false
		}
		if typ == commentType {
			return strings.TrimSuffix(string(ud[2:2+n]), "\x00"), true
		}
		ud = ud[2+n:]
	}
	return "", false
}

var errBadTag = errors.New("not a shoal rule tag")

// parseTag parses a tag made by baseTag, netTag or portTag.
func parseTag(s string) (tag, error) {
	rest, ok := strings.CutPrefix(s, tagPrefix)
	if !ok {
		return tag{}, errBadTag
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 {
		return tag{}, errBadTag
	}
	t := tag{kind: fields[0]}
	switch t.kind {
	case kindBase:
		if len(fields) != 2 {
			return tag{}, errBadTag
		}
		t.role = fields[1]
		return t, nil
	case kindNet:
		if len(fields) < 2 {
			return tag{}, errBadTag
		}
		t.role = fields[1]
		kv, err := keyValues(fields[2:])
		if err != nil {
			return tag{}, err
		}
		n := Network{Bridge: kv["br"]}
		if n.Internal, err = parseBool(kv, "int"); err != nil {
			return tag{}, err
		}
		if n.Masquerade, err = parseBool(kv, "masq"); err != nil {
			return tag{}, err
		}
		if n.ICC, err = parseBool(kv, "icc"); err != nil {
			return tag{}, err
		}
		if subs, ok := kv["sub"]; ok && subs != "" {
			for _, s := range strings.Split(subs, ",") {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					return tag{}, fmt.Errorf("%w: %w", errBadTag, err)
				}
				n.Subnets = append(n.Subnets, p)
			}
		}
		if t.net, err = normalizeNetwork(n); err != nil {
			return tag{}, fmt.Errorf("%w: %w", errBadTag, err)
		}
		return t, nil
	case kindPort:
		kv, err := keyValues(fields[1:])
		if err != nil {
			return tag{}, err
		}
		p := Port{Owner: kv["owner"], Proto: kv["proto"], Bridge: kv["br"]}
		if h := kv["hostip"]; h != "*" {
			if p.HostIP, err = netip.ParseAddr(h); err != nil {
				return tag{}, fmt.Errorf("%w: %w", errBadTag, err)
			}
		}
		if p.ContainerIP, err = netip.ParseAddr(kv["ctrip"]); err != nil {
			return tag{}, fmt.Errorf("%w: %w", errBadTag, err)
		}
		if p.HostPort, err = parsePortField(kv, "hostport"); err != nil {
			return tag{}, err
		}
		if p.ContainerPort, err = parsePortField(kv, "ctrport"); err != nil {
			return tag{}, err
		}
		if t.port, err = normalizePort(p); err != nil {
			return tag{}, fmt.Errorf("%w: %w", errBadTag, err)
		}
		return t, nil
	}
	return tag{}, errBadTag
}

func keyValues(fields []string) (map[string]string, error) {
	kv := make(map[string]string, len(fields))
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errBadTag
		}
		kv[k] = v
	}
	return kv, nil
}

func parseBool(kv map[string]string, k string) (bool, error) {
	switch kv[k] {
	case "1":
		return true, nil
	case "0":
		return false, nil
	}
	return false, fmt.Errorf("%w: field %s", errBadTag, k)
}

func parsePortField(kv map[string]string, k string) (uint16, error) {
	n, err := strconv.ParseUint(kv[k], 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%w: field %s: %w", errBadTag, k, err)
	}
	return uint16(n), nil
}
