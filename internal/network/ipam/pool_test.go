package ipam

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

var (
	mpfx  = netip.MustParsePrefix
	maddr = netip.MustParseAddr
)

func TestParsePoolValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                     string
		subnet, ipRange, gateway string
		aux                      map[string]string
		want                     Pool
	}{
		{
			name:   "v4 subnet only",
			subnet: "10.1.0.0/16",
			want:   Pool{Subnet: mpfx("10.1.0.0/16"), Gateway: maddr("10.1.0.1")},
		},
		{
			name:    "ip-range in the middle: gateway is its first address",
			subnet:  "172.28.0.0/16",
			ipRange: "172.28.5.0/24",
			want:    Pool{Subnet: mpfx("172.28.0.0/16"), IPRange: mpfx("172.28.5.0/24"), Gateway: maddr("172.28.5.0")},
		},
		{
			name:    "ip-range at the start skips the network address",
			subnet:  "192.168.0.0/24",
			ipRange: "192.168.0.0/25",
			want:    Pool{Subnet: mpfx("192.168.0.0/24"), IPRange: mpfx("192.168.0.0/25"), Gateway: maddr("192.168.0.1")},
		},
		{
			name:    "ip-range equal to subnet",
			subnet:  "10.9.0.0/24",
			ipRange: "10.9.0.0/24",
			want:    Pool{Subnet: mpfx("10.9.0.0/24"), IPRange: mpfx("10.9.0.0/24"), Gateway: maddr("10.9.0.1")},
		},
		{
			name:    "gateway and aux",
			subnet:  "10.1.0.0/16",
			gateway: "10.1.255.254",
			aux:     map[string]string{"router": "10.1.0.1", "DefaultGatewayIPv4": "10.1.0.2"},
			want: Pool{Subnet: mpfx("10.1.0.0/16"), Gateway: maddr("10.1.255.254"),
				Aux: map[string]netip.Addr{"router": maddr("10.1.0.1"), "DefaultGatewayIPv4": maddr("10.1.0.2")}},
		},
		{
			name:    "gateway outside the ip-range",
			subnet:  "192.168.0.0/24",
			ipRange: "192.168.0.64/31",
			gateway: "192.168.0.1",
			want:    Pool{Subnet: mpfx("192.168.0.0/24"), IPRange: mpfx("192.168.0.64/31"), Gateway: maddr("192.168.0.1")},
		},
		{
			name:   "v6 /64: anycast address skipped",
			subnet: "fd00:1::/64",
			want:   Pool{Subnet: mpfx("fd00:1::/64"), Gateway: maddr("fd00:1::1")},
		},
		{
			name:    "v6 /127 range at the end of a /64",
			subnet:  "fda9:8d04:86e::/64",
			ipRange: "fda9:8d04:86e:0:ffff:ffff:ffff:fffe/127",
			want: Pool{Subnet: mpfx("fda9:8d04:86e::/64"), IPRange: mpfx("fda9:8d04:86e:0:ffff:ffff:ffff:fffe/127"),
				Gateway: maddr("fda9:8d04:86e:0:ffff:ffff:ffff:fffe")},
		},
		{
			name:   "v4 /31 has no network or broadcast address",
			subnet: "10.0.0.0/31",
			want:   Pool{Subnet: mpfx("10.0.0.0/31"), Gateway: maddr("10.0.0.0")},
		},
		{
			name:   "v4 /32",
			subnet: "10.0.0.7/32",
			want:   Pool{Subnet: mpfx("10.0.0.7/32"), Gateway: maddr("10.0.0.7")},
		},
		{
			name:    "v4 broadcast may be the gateway of a /31",
			subnet:  "10.0.0.0/31",
			gateway: "10.0.0.1",
			want:    Pool{Subnet: mpfx("10.0.0.0/31"), Gateway: maddr("10.0.0.1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePool(tt.subnet, tt.ipRange, tt.gateway, tt.aux)
			if err != nil {
				t.Fatalf("ParsePool(%q, %q, %q, %v) = %v", tt.subnet, tt.ipRange, tt.gateway, tt.aux, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParsePool(%q, %q, %q, %v) = %+v, want %+v", tt.subnet, tt.ipRange, tt.gateway, tt.aux, got, tt.want)
			}
		})
	}
}

func TestParsePoolErrors(t *testing.T) {
	t.Parallel()
	const cfg = "invalid network config:\n"
	tests := []struct {
		name                     string
		subnet, ipRange, gateway string
		aux                      map[string]string
		want                     string
	}{
		{"bad subnet", "10.1.2.3/33", "", "", nil,
			cfg + "invalid subnet 10.1.2.3/33: invalid CIDR block notation"},
		{"empty subnet", "", "", "", nil,
			cfg + "invalid subnet : invalid CIDR block notation"},
		{"subnet without length", "10.1.0.0", "", "", nil,
			cfg + "invalid subnet 10.1.0.0: invalid CIDR block notation"},
		{"host bits set", "10.1.2.3/16", "", "", nil,
			cfg + "invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16"},
		{"v6 host bits set", "fd00::1/64", "", "", nil,
			cfg + "invalid subnet fd00::1/64: it should be fd00::/64"},
		{"bad ip-range", "10.1.0.0/16", "10.1.0.0/99", "", nil,
			cfg + "invalid ip-range 10.1.0.0/99: invalid CIDR block notation"},
		{"ip-range outside", "10.1.0.0/16", "10.2.0.0/24", "", nil,
			cfg + "invalid ip-range 10.2.0.0/24: parent subnet 10.1.0.0/16 doesn't contain ip-range"},
		{"ip-range bigger", "10.1.0.0/16", "10.0.0.0/8", "", nil,
			cfg + "invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.1.0.0/16"},
		{"ip-range other family", "10.1.0.0/16", "fd00::/64", "", nil,
			cfg + "invalid ip-range fd00::/64: parent subnet is an IPv4 block"},
		{"ip-range host bits", "10.1.0.0/16", "10.1.5.3/24", "", nil,
			cfg + "invalid ip-range 10.1.5.3/24: it should be 10.1.5.0/24"},
		{"bad gateway", "10.1.0.0/16", "", "10.1.0.300", nil,
			cfg + "invalid gateway 10.1.0.300: invalid address"},
		{"gateway outside", "10.1.0.0/16", "", "10.2.0.1", nil,
			cfg + "invalid gateway 10.2.0.1: parent subnet 10.1.0.0/16 doesn't contain this address"},
		{"gateway other family", "10.1.0.0/16", "", "fd00::1", nil,
			cfg + "invalid gateway fd00::1: parent subnet is an IPv4 block"},
		{"v6 gateway other family", "fd00::/64", "", "10.0.0.1", nil,
			cfg + "invalid gateway 10.0.0.1: parent subnet is an IPv6 block"},
		{"aux outside", "10.1.0.0/16", "", "", map[string]string{"host": "10.2.0.1"},
			cfg + "invalid auxiliary address host: parent subnet 10.1.0.0/16 doesn't contain this address"},
		{"bad aux", "10.1.0.0/16", "", "", map[string]string{"host": "nope"},
			cfg + "invalid auxiliary address host: invalid address"},
		{"several", "10.1.2.3/16", "", "10.2.0.1", map[string]string{"b": "10.3.0.1", "a": "fd00::1"},
			cfg + "* invalid subnet 10.1.2.3/16: it should be 10.1.0.0/16\n" +
				"* invalid gateway 10.2.0.1: parent subnet 10.1.2.3/16 doesn't contain this address\n" +
				"* invalid auxiliary address a: parent subnet is an IPv4 block\n" +
				"* invalid auxiliary address b: parent subnet 10.1.2.3/16 doesn't contain this address"},
		{"gateway is the network address", "10.1.0.0/16", "", "10.1.0.0", nil,
			"failed to allocate gateway (10.1.0.0): Address already in use"},
		{"gateway is the broadcast address", "10.1.0.0/16", "", "10.1.255.255", nil,
			"failed to allocate gateway (10.1.255.255): Address already in use"},
		{"gateway is the anycast address", "fd00:1::/64", "", "fd00:1::", nil,
			"failed to allocate gateway (fd00:1::): Address already in use"},
		{"no gateway left in range", "10.1.0.0/24", "10.1.0.255/32", "", nil,
			"failed to allocate gateway (): no available addresses on this pool"},
		{"v6 /128", "fd00::1/128", "", "", nil,
			"failed to allocate gateway (): no available addresses on this pool"},
		{"aux is the default gateway", "10.1.0.0/24", "", "", map[string]string{"gw": "10.1.0.1"},
			"failed to allocate secondary ip address (gw:10.1.0.1): Address already in use"},
		{"aux is the network address", "10.1.0.0/24", "", "10.1.0.1", map[string]string{"net": "10.1.0.0"},
			"failed to allocate secondary ip address (net:10.1.0.0): Address already in use"},
		{"aux twice", "10.1.0.0/24", "", "", map[string]string{"a": "10.1.0.9", "b": "10.1.0.9"},
			"failed to allocate secondary ip address (b:10.1.0.9): Address already in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := ParsePool(tt.subnet, tt.ipRange, tt.gateway, tt.aux)
			if err == nil {
				t.Fatalf("ParsePool(%q, %q, %q, %v) = %+v, want error %q", tt.subnet, tt.ipRange, tt.gateway, tt.aux, p, tt.want)
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("ParsePool(%q, ...) = %v, want class ErrInvalidArgument", tt.subnet, err)
			}
			if got := strings.TrimSuffix(err.Error(), ": "+errdefs.ErrInvalidArgument.Error()); got != tt.want {
				t.Errorf("ParsePool(%q, %q, %q, %v) error:\n%s\nwant:\n%s", tt.subnet, tt.ipRange, tt.gateway, tt.aux, got, tt.want)
			}
		})
	}
}

func TestParsePoolCopiesAux(t *testing.T) {
	t.Parallel()
	aux := map[string]string{"a": "10.0.0.5"}
	p, err := ParsePool("10.0.0.0/24", "", "", aux)
	if err != nil {
		t.Fatal(err)
	}
	aux["a"] = "10.0.0.6"
	if p.Aux["a"] != maddr("10.0.0.5") {
		t.Errorf("Aux[a] = %v after caller changed its map, want 10.0.0.5", p.Aux["a"])
	}
}

func TestOverlaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b netip.Prefix
		want bool
	}{
		{mpfx("10.0.0.0/8"), mpfx("10.1.0.0/16"), true},
		{mpfx("10.1.0.0/16"), mpfx("10.0.0.0/8"), true},
		{mpfx("10.0.0.0/16"), mpfx("10.1.0.0/16"), false},
		{mpfx("0.0.0.0/0"), mpfx("192.168.1.0/24"), true},
		{mpfx("172.17.0.0/16"), mpfx("172.17.255.0/24"), true},
		{mpfx("10.0.0.0/8"), mpfx("::ffff:10.0.0.0/104"), false},
		{mpfx("fd00::/8"), mpfx("fd12:3456::/64"), true},
		{mpfx("fd00::/64"), mpfx("fd00:0:0:1::/64"), false},
		{netip.Prefix{}, mpfx("10.0.0.0/8"), false},
	}
	for _, tt := range tests {
		if got := Overlaps(tt.a, tt.b); got != tt.want {
			t.Errorf("Overlaps(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDefaultV4Pools(t *testing.T) {
	t.Parallel()
	got := DefaultV4Pools()
	if len(got) != 15+16 {
		t.Fatalf("len(DefaultV4Pools()) = %d, want 31", len(got))
	}
	for i, want := range map[int]string{0: "172.17.0.0/16", 1: "172.18.0.0/16", 3: "172.20.0.0/16", 14: "172.31.0.0/16",
		15: "192.168.0.0/20", 16: "192.168.16.0/20", 30: "192.168.240.0/20"} {
		if got[i] != mpfx(want) {
			t.Errorf("DefaultV4Pools()[%d] = %v, want %v", i, got[i], want)
		}
	}
	for i := range got {
		for j := range i {
			if Overlaps(got[i], got[j]) {
				t.Errorf("DefaultV4Pools(): %v overlaps %v", got[i], got[j])
			}
		}
	}
}

func TestDefaultV6Pools(t *testing.T) {
	t.Parallel()
	a := DefaultV6Pools("engine-a")
	if len(a) != 1<<16 {
		t.Fatalf("len(DefaultV6Pools()) = %d, want 65536", len(a))
	}
	base := netip.PrefixFrom(a[0].Addr(), 48)
	if !mpfx("fd00::/8").Contains(base.Addr()) || base.Masked() != base {
		t.Errorf("DefaultV6Pools()[0] = %v, want the first /64 of a /48 in fd00::/8", a[0])
	}
	for i, p := range []netip.Prefix{a[0], a[1], a[65535]} {
		if p.Bits() != 64 || !base.Contains(p.Addr()) || p.Masked() != p {
			t.Errorf("pool %d = %v, want a /64 of %v", i, p, base)
		}
	}
	if a[1].Addr().As16()[7] != 1 || a[0] == a[1] {
		t.Errorf("DefaultV6Pools()[1] = %v, want the second /64 after %v", a[1], a[0])
	}
	if b := DefaultV6Pools("engine-a"); b[0] != a[0] {
		t.Errorf("DefaultV6Pools not stable: %v then %v", a[0], b[0])
	}
	if c := DefaultV6Pools("engine-b"); c[0] == a[0] {
		t.Errorf("DefaultV6Pools(engine-a) = DefaultV6Pools(engine-b) = %v, want different /48s", a[0])
	}
}

func TestErrorsCarryClasses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err   error
		class error
		msg   string
	}{
		{ErrNoAvailableIPs, errdefs.ErrUnavailable, "no available addresses on this pool"},
		{ErrIPAlreadyAllocated, errdefs.ErrConflict, "Address already in use"},
		{ErrPoolOverlap, errdefs.ErrConflict, "Pool overlaps with other one on this address space"},
		{ErrNoMoreSubnets, errdefs.ErrInvalidArgument, "all predefined address pools have been fully subnetted"},
	} {
		if !errors.Is(tt.err, tt.class) {
			t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.class)
		}
		if want := tt.msg + ": " + tt.class.Error(); tt.err.Error() != want {
			t.Errorf("Error() = %q, want %q", tt.err.Error(), want)
		}
	}
}
