package link

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
)

func TestMACFromIP(t *testing.T) {
	tests := []struct {
		ip   string
		want net.HardwareAddr
	}{
		{"172.17.0.2", net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}},
		{"10.0.255.254", net.HardwareAddr{0x02, 0x42, 0x0a, 0x00, 0xff, 0xfe}},
		{"::ffff:192.168.1.9", net.HardwareAddr{0x02, 0x42, 0xc0, 0xa8, 0x01, 0x09}},
		{"fd00::2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			if got := MACFromIP(netip.MustParseAddr(tt.ip)); !bytes.Equal(got, tt.want) {
				t.Errorf("MACFromIP(%s) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
	if got := MACFromIP(netip.Addr{}); got != nil {
		t.Errorf("MACFromIP(zero) = %v, want nil", got)
	}
}

func TestRandomMAC(t *testing.T) {
	seen := map[string]bool{}
	for range 64 {
		mac := RandomMAC()
		if len(mac) != 6 {
			t.Fatalf("RandomMAC() = %v: %d bytes, want 6", mac, len(mac))
		}
		if mac[0]&0x01 != 0 || mac[0]&0x02 == 0 {
			t.Fatalf("RandomMAC() = %v: want a locally administered unicast address", mac)
		}
		seen[mac.String()] = true
	}
	if len(seen) < 60 {
		t.Errorf("64 RandomMAC() calls gave only %d distinct addresses", len(seen))
	}
}
