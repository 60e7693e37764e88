package main

import "github.com/shoal-dev/shoal/bench/internal/netns"

// newNetNS makes a network namespace for the run and keeps it for the
// clean-up.
func (b *bench) newNetNS(name string) (*netns.NS, error) {
	ns, err := netns.New(b.tmp, name)
	if err != nil {
		return nil, err
	}
	b.netns = append(b.netns, ns)
	return ns, nil
}
