package dns

import (
	"encoding/binary"
	"testing"

	mdns "github.com/miekg/dns"
)

// FuzzServeMsg feeds raw bytes to the query handler as a UDP and a TCP
// message. It must never panic, and every reply must parse, carry the
// query's ID and fit what the client accepts. There is no upstream, so
// nothing leaves the process.
func FuzzServeMsg(f *testing.F) {
	for _, q := range []*mdns.Msg{
		query("web.", mdns.TypeA),
		query("WEB.mynet.", mdns.TypeAAAA),
		query("many.", mdns.TypeA).SetEdns0(1232, true),
		query("2.0.0.10.in-addr.arpa.", mdns.TypePTR),
		query("example.com.", mdns.TypeMX),
	} {
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x0c})
	s := newHandlerServer(f)
	scope := func() []string { return []string{"mynet", "mynet"} }
	f.Fuzz(func(t *testing.T, req []byte) {
		for _, proto := range []string{"udp", "tcp"} {
			reply := s.serveMsg(t.Context(), scope, proto, req)
			if reply == nil {
				continue
			}
			r := new(mdns.Msg)
			if err := r.Unpack(reply); err != nil {
				t.Fatalf("%s reply %x does not parse: %v", proto, reply, err)
			}
			if !r.Response || r.Id != binary.BigEndian.Uint16(req) {
				t.Fatalf("%s reply %v: not a response with the query's id", proto, r)
			}
			limit := mdns.MaxMsgSize
			if proto == "udp" {
				limit = mdns.MinMsgSize
				q := new(mdns.Msg)
				if q.Unpack(req) == nil {
					if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > limit {
						limit = int(opt.UDPSize())
					}
				}
			}
			if len(reply) > limit {
				t.Fatalf("%s reply of %d bytes, client accepts %d", proto, len(reply), limit)
			}
		}
	})
}
