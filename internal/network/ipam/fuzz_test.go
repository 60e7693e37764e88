package ipam

import (
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// FuzzParsePool checks that any pool ParsePool accepts is consistent
// (canonical, gateway and aux inside and not reserved, range inside) and
// parses back to itself from its own strings, and that every refusal is
// an ErrInvalidArgument in one of dockerd's forms.
func FuzzParsePool(f *testing.F) {
	for _, s := range [][5]string{
		{"10.1.0.0/16", "", "", "", ""},
		{"172.28.0.0/16", "172.28.5.0/24", "172.28.5.254", "host", "172.28.1.5"},
		{"10.1.2.3/16", "10.1.5.3/24", "10.2.0.1", "a", "fd00::1"},
		{"fd00:1::/64", "fd00:1::/120", "", "x", "fd00:1::2a"},
		{"fda9:8d04:86e::/64", "fda9:8d04:86e:0:ffff:ffff:ffff:fffe/127", "", "", ""},
		{"10.0.0.0/31", "", "10.0.0.1", "", ""},
		{"10.0.0.0/24", "10.0.0.255/32", "", "", ""},
		{"::ffff:0:0/96", "", "::ffff:1.2.3.4", "", ""},
		{"fe80::/64", "", "fe80::1%eth0", "", ""},
		{"0.0.0.0/0", "", "", "", ""},
		{"::/0", "::/1", "", "z", "::"},
		{"", "", "", "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	f.Fuzz(func(t *testing.T, subnet, ipRange, gateway, auxName, auxAddr string) {
		var aux map[string]string
		if auxName != "" || auxAddr != "" {
			aux = map[string]string{auxName: auxAddr}
		}
		p, err := ParsePool(subnet, ipRange, gateway, aux)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ParsePool(%q, %q, %q, %v) = %v, not ErrInvalidArgument", subnet, ipRange, gateway, aux, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "invalid network config:\n") && !strings.HasPrefix(msg, "failed to allocate ") {
				t.Fatalf("ParsePool(%q, %q, %q, %v) = %q, not one of dockerd's forms", subnet, ipRange, gateway, aux, msg)
			}
			return
		}
		if !p.Subnet.IsValid() || p.Subnet != p.Subnet.Masked() {
			t.Fatalf("Subnet %v not canonical", p.Subnet)
		}
		if p.IPRange.IsValid() && (p.IPRange != p.IPRange.Masked() || p.IPRange.Bits() < p.Subnet.Bits() || !p.Subnet.Contains(p.IPRange.Addr())) {
			t.Fatalf("IPRange %v not inside %v", p.IPRange, p.Subnet)
		}
		base := baseReserved(p.Subnet)
		if !p.Subnet.Contains(p.Gateway) || base[p.Gateway] {
			t.Fatalf("Gateway %v not a usable address of %v", p.Gateway, p.Subnet)
		}
		for name, a := range p.Aux {
			if !p.Subnet.Contains(a) || base[a] || a == p.Gateway {
				t.Fatalf("Aux %s=%v not a free address of %v (gateway %v)", name, a, p.Subnet, p.Gateway)
			}
		}
		var rng string
		if p.IPRange.IsValid() {
			rng = p.IPRange.String()
		}
		var aux2 map[string]string
		for k, v := range p.Aux {
			if aux2 == nil {
				aux2 = map[string]string{}
			}
			aux2[k] = v.String()
		}
		again, err := ParsePool(p.Subnet.String(), rng, p.Gateway.String(), aux2)
		if err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("ParsePool of %+v's own strings = %+v, %v", p, again, err)
		}
		if _, err := again.complete(); err != nil {
			t.Fatalf("complete(%+v) = %v", again, err)
		}
		if err := p.validate(); err != nil {
			t.Fatalf("validate(%+v) = %v", p, err)
		}
	})
}
