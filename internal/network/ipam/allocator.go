package ipam

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Bucket and key names; the layout is drawn in doc.go.
var (
	bucketIPAM  = []byte("ipam")
	bucketAddrs = []byte("addrs")
	keyPool     = []byte("pool")
)

// Allocator records pools and the addresses handed out from them in a
// bbolt database it does not own. It keeps no state outside the
// database: every method is one transaction, safe for concurrent use.
type Allocator struct {
	db *bolt.DB
}

// New returns an Allocator keeping its records in db's "ipam" bucket,
// which it creates if needed. The caller closes db.
func New(db *bolt.DB) (*Allocator, error) {
	if db == nil {
		return nil, fmt.Errorf("ipam: no database: %w", errdefs.ErrInvalidArgument)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketIPAM)
		return err
	}); err != nil {
		return nil, fmt.Errorf("ipam: create bucket: %w", err)
	}
	return &Allocator{db: db}, nil
}

// AddPool records p as one of netID's pools, after p's gateway (the
// default one if p has none) and auxiliary addresses. It refuses a pool
// that is malformed (ErrInvalidArgument, dockerd's messages) or that
// shares an address with any pool already recorded, this network's
// included (ErrPoolOverlap, of class ErrConflict).
func (a *Allocator) AddPool(netID string, p Pool) error {
	if netID == "" {
		return fmt.Errorf("add pool: empty network ID: %w", errdefs.ErrInvalidArgument)
	}
	if err := p.validate(); err != nil {
		return err
	}
	return a.db.Update(func(tx *bolt.Tx) error {
		_, err := addPool(tx, netID, p)
		return err
	})
}

// DefaultPool picks the first of candidates (of the family v6 says) that
// overlaps no recorded pool and that avoid (if not nil) does not refuse,
// and records it for netID with its first usable address as gateway.
// avoid runs inside the write transaction: it must not call the
// Allocator. None left is ErrNoMoreSubnets, as dockerd says it.
func (a *Allocator) DefaultPool(netID string, v6 bool, candidates []netip.Prefix, avoid func(netip.Prefix) bool) (Pool, error) {
	if netID == "" {
		return Pool{}, fmt.Errorf("default pool: empty network ID: %w", errdefs.ErrInvalidArgument)
	}
	var out Pool
	err := a.db.Update(func(tx *bolt.Tx) error {
		all, err := allPools(tx)
		if err != nil {
			return err
		}
	next:
		for _, c := range candidates {
			if !c.IsValid() || c.Addr().Is6() != v6 {
				continue
			}
			c = c.Masked()
			for _, pools := range all {
				for _, sp := range pools {
					if Overlaps(sp.Subnet, c) {
						continue next
					}
				}
			}
			if avoid != nil && avoid(c) {
				continue
			}
			p, err := addPool(tx, netID, Pool{Subnet: c})
			if err != nil {
				return err
			}
			out = p
			return nil
		}
		return ErrNoMoreSubnets
	})
	if err != nil {
		return Pool{}, err
	}
	return out, nil
}

// RemovePool drops all of netID's pools and their allocations. A
// network with no pools is ErrNotFound.
func (a *Allocator) RemovePool(netID string) error {
	return a.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketIPAM)
		if netID == "" || root.Bucket([]byte(netID)) == nil {
			return errNoNetwork(netID)
		}
		if err := root.DeleteBucket([]byte(netID)); err != nil {
			return fmt.Errorf("remove pools of network %s: %w", netID, err)
		}
		return nil
	})
}

// Pools is every network's pools, by network ID, each network's in the
// order they were added.
func (a *Allocator) Pools() (map[string][]Pool, error) {
	out := map[string][]Pool{}
	err := a.db.View(func(tx *bolt.Tx) error {
		all, err := allPools(tx)
		if err != nil {
			return err
		}
		for id, pools := range all {
			for _, sp := range pools {
				out[id] = append(out[id], sp.Pool)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Allocate hands owner (a container or endpoint ID) an address of
// netID and returns it, and it with the subnet's prefix length.
//
// want says which:
//   - an address: exactly that one. It must lie in one of the network's
//     subnets (not necessarily its IP range) and be free; the network
//     and broadcast addresses, the gateway and the auxiliary addresses
//     never are (ErrIPAlreadyAllocated, "Address already in use").
//   - 0.0.0.0 or ::: the lowest free address of the IP range of the
//     network's first pool of that family with one free, as dockerd picks
//     them on a local network (a just-released address is the next one
//     handed out again).
//   - the zero Addr: as the unspecified address of the family of the
//     first pool in which owner holds no address yet, so that calling
//     once per pool gives owner one address per pool.
//
// No free address is ErrNoAvailableIPs (of class ErrUnavailable).
func (a *Allocator) Allocate(netID, owner string, want netip.Addr) (netip.Addr, netip.Prefix, error) {
	if owner == "" {
		return netip.Addr{}, netip.Prefix{}, fmt.Errorf("allocate address: empty owner: %w", errdefs.ErrInvalidArgument)
	}
	want = want.Unmap().WithZone("")
	var got netip.Prefix
	err := a.db.Update(func(tx *bolt.Tx) error {
		pools, err := networkPools(tx, netID)
		if err != nil {
			return err
		}
		if want.IsValid() && !want.IsUnspecified() {
			for _, sp := range pools {
				if !sp.Subnet.Contains(want) {
					continue
				}
				if sp.taken(want) {
					return ErrIPAlreadyAllocated
				}
				got = netip.PrefixFrom(want, sp.Subnet.Bits())
				return sp.put(want, owner)
			}
			return errNotAllocatable(want)
		}
		v6 := want.Is6()
		if !want.IsValid() {
			if v6, err = familyFor(pools, owner); err != nil {
				return err
			}
		}
		family := false
		for _, sp := range pools {
			if sp.Subnet.Addr().Is6() != v6 {
				continue
			}
			family = true
			addr, ok, err := sp.lowestFree()
			if err != nil {
				return err
			}
			if ok {
				got = netip.PrefixFrom(addr, sp.Subnet.Bits())
				return sp.put(addr, owner)
			}
		}
		v := 4
		if v6 {
			v = 6
		}
		if !family {
			return fmt.Errorf("network %s has no IPv%d pool: %w", netID, v, errdefs.ErrInvalidArgument)
		}
		return withDetail(fmt.Sprintf("no available IPv%d addresses on this network's address pools", v), ErrNoAvailableIPs)
	})
	if err != nil {
		return netip.Addr{}, netip.Prefix{}, err
	}
	return got.Addr(), got, nil
}

// Release gives back addr of netID. An address no one holds is released
// already (no error); the reserved ones (gateway, auxiliary, network,
// broadcast) cannot be, nor can one outside the network's subnets.
func (a *Allocator) Release(netID string, addr netip.Addr) error {
	addr = addr.Unmap().WithZone("")
	return a.db.Update(func(tx *bolt.Tx) error {
		pools, err := networkPools(tx, netID)
		if err != nil {
			return err
		}
		for _, sp := range pools {
			if !sp.Subnet.Contains(addr) {
				continue
			}
			if sp.reserved[addr] {
				return fmt.Errorf("release %s: reserved address of network %s: %w", addr, netID, errdefs.ErrInvalidArgument)
			}
			if err := sp.addrs.Delete(addr.AsSlice()); err != nil {
				return fmt.Errorf("release %s: %w", addr, err)
			}
			return nil
		}
		return fmt.Errorf("release %s: requested address is out of range: %w", addr, errdefs.ErrInvalidArgument)
	})
}

// ReleaseOwner gives back every address of netID that owner holds.
func (a *Allocator) ReleaseOwner(netID, owner string) error {
	return a.db.Update(func(tx *bolt.Tx) error {
		pools, err := networkPools(tx, netID)
		if err != nil {
			return err
		}
		for _, sp := range pools {
			var held [][]byte
			if err := sp.addrs.ForEach(func(k, v []byte) error {
				if string(v) == owner {
					held = append(held, bytes.Clone(k))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range held {
				if err := sp.addrs.Delete(k); err != nil {
					return fmt.Errorf("release addresses of %s: %w", owner, err)
				}
			}
		}
		return nil
	})
}

// Allocations is every address of netID handed out, with its owner.
// The gateway and auxiliary addresses are in the network's Pools.
func (a *Allocator) Allocations(netID string) (map[netip.Addr]string, error) {
	out := map[netip.Addr]string{}
	err := a.db.View(func(tx *bolt.Tx) error {
		pools, err := networkPools(tx, netID)
		if err != nil {
			return err
		}
		for _, sp := range pools {
			if err := sp.addrs.ForEach(func(k, v []byte) error {
				addr, ok := netip.AddrFromSlice(k)
				if !ok || !sp.Subnet.Contains(addr) || len(v) == 0 {
					return fmt.Errorf("network %s: address key %x: %w", netID, k, errCorrupt)
				}
				out[addr] = string(v)
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// storedPool is a pool as loaded inside a transaction.
type storedPool struct {
	Pool
	reserved map[netip.Addr]bool
	addrs    *bolt.Bucket
}

func (sp *storedPool) taken(a netip.Addr) bool {
	return sp.reserved[a] || sp.addrs.Get(a.AsSlice()) != nil
}

func (sp *storedPool) put(a netip.Addr, owner string) error {
	if err := sp.addrs.Put(a.AsSlice(), []byte(owner)); err != nil {
		return fmt.Errorf("record %s: %w", a, err)
	}
	return nil
}

// lowestFree walks the allocated addresses of the pool's IP range in
// order and returns the first gap that is not reserved. The cost grows
// with the addresses handed out, not with the size of the range.
func (sp *storedPool) lowestFree() (netip.Addr, bool, error) {
	r := sp.allocRange()
	last := lastAddr(r)
	lastKey := last.AsSlice()
	cand := r.Addr()
	c := sp.addrs.Cursor()
	for k, _ := c.Seek(cand.AsSlice()); k != nil && bytes.Compare(k, lastKey) <= 0; k, _ = c.Next() {
		held, ok := netip.AddrFromSlice(k)
		if !ok || held.BitLen() != cand.BitLen() {
			return netip.Addr{}, false, fmt.Errorf("address key %x: %w", k, errCorrupt)
		}
		for ; cand.Less(held); cand = cand.Next() {
			if !sp.reserved[cand] {
				return cand, true, nil
			}
		}
		if cand == held {
			if cand == last {
				return netip.Addr{}, false, nil
			}
			cand = cand.Next()
		}
	}
	for ; cand.IsValid() && cand.Compare(last) <= 0; cand = cand.Next() {
		if !sp.reserved[cand] {
			return cand, true, nil
		}
	}
	return netip.Addr{}, false, nil
}

// poolRecord is a pool as stored (JSON under "pool").
type poolRecord struct {
	Subnet  netip.Prefix          `json:"subnet"`
	IPRange netip.Prefix          `json:"ip_range,omitzero"`
	Gateway netip.Addr            `json:"gateway"`
	Aux     map[string]netip.Addr `json:"aux,omitempty"`
}

// addPool checks p against every recorded pool, completes it and stores
// it as netID's next pool.
func addPool(tx *bolt.Tx, netID string, p Pool) (Pool, error) {
	all, err := allPools(tx)
	if err != nil {
		return Pool{}, err
	}
	for _, pools := range all {
		for _, sp := range pools {
			if Overlaps(sp.Subnet, p.Subnet) {
				return Pool{}, withDetail("invalid pool request: "+msgOverlap, ErrPoolOverlap)
			}
		}
	}
	p, err = p.complete()
	if err != nil {
		return Pool{}, err
	}
	nb, err := tx.Bucket(bucketIPAM).CreateBucketIfNotExists([]byte(netID))
	if err != nil {
		return Pool{}, fmt.Errorf("record pool %s: %w", p.Subnet, err)
	}
	seq, err := nb.NextSequence()
	if err != nil {
		return Pool{}, fmt.Errorf("record pool %s: %w", p.Subnet, err)
	}
	pb, err := nb.CreateBucket(binary.BigEndian.AppendUint64(nil, seq))
	if err != nil {
		return Pool{}, fmt.Errorf("record pool %s: %w", p.Subnet, err)
	}
	v, err := json.Marshal(poolRecord(p))
	if err != nil {
		return Pool{}, fmt.Errorf("record pool %s: %w", p.Subnet, err)
	}
	if err := pb.Put(keyPool, v); err != nil {
		return Pool{}, fmt.Errorf("record pool %s: %w", p.Subnet, err)
	}
	if _, err := pb.CreateBucket(bucketAddrs); err != nil {
		return Pool{}, fmt.Errorf("record pool %s: %w", p.Subnet, err)
	}
	return p, nil
}

// allPools loads every network's pools.
func allPools(tx *bolt.Tx) (map[string][]*storedPool, error) {
	out := map[string][]*storedPool{}
	root := tx.Bucket(bucketIPAM)
	err := root.ForEachBucket(func(k []byte) error {
		pools, err := loadPools(string(k), root.Bucket(k))
		if err != nil {
			return err
		}
		out[string(k)] = pools
		return nil
	})
	return out, err
}

// networkPools loads netID's pools; none is ErrNotFound.
func networkPools(tx *bolt.Tx, netID string) ([]*storedPool, error) {
	if netID == "" {
		return nil, errNoNetwork(netID)
	}
	nb := tx.Bucket(bucketIPAM).Bucket([]byte(netID))
	if nb == nil {
		return nil, errNoNetwork(netID)
	}
	pools, err := loadPools(netID, nb)
	if err != nil {
		return nil, err
	}
	if len(pools) == 0 {
		return nil, errNoNetwork(netID)
	}
	return pools, nil
}

// loadPools reads a network bucket's pools in the order they were added
// and checks each record as AddPool checked it.
func loadPools(netID string, nb *bolt.Bucket) ([]*storedPool, error) {
	var out []*storedPool
	err := nb.ForEachBucket(func(k []byte) error {
		pb := nb.Bucket(k)
		var rec poolRecord
		if err := json.Unmarshal(pb.Get(keyPool), &rec); err != nil {
			return fmt.Errorf("network %s: pool %x: %w: %w", netID, k, errCorrupt, err)
		}
		p := Pool(rec)
		if !p.Gateway.IsValid() {
			return fmt.Errorf("network %s: pool %s has no gateway: %w", netID, p.Subnet, errCorrupt)
		}
		if err := p.validate(); err != nil {
			return fmt.Errorf("network %s: pool %s: %w: %w", netID, p.Subnet, errCorrupt, err)
		}
		if _, err := p.complete(); err != nil {
			return fmt.Errorf("network %s: pool %s: %w: %w", netID, p.Subnet, errCorrupt, err)
		}
		addrs := pb.Bucket(bucketAddrs)
		if addrs == nil {
			return fmt.Errorf("network %s: pool %s has no addresses bucket: %w", netID, p.Subnet, errCorrupt)
		}
		out = append(out, &storedPool{Pool: p, reserved: p.reserved(), addrs: addrs})
		return nil
	})
	return out, err
}

// familyFor is the family a zero want means: that of the first pool in
// which owner holds no address yet, else of the first pool.
func familyFor(pools []*storedPool, owner string) (bool, error) {
	holds := map[bool]bool{}
	for _, sp := range pools {
		err := sp.addrs.ForEach(func(_, v []byte) error {
			if string(v) == owner {
				holds[sp.Subnet.Addr().Is6()] = true
			}
			return nil
		})
		if err != nil {
			return false, err
		}
	}
	for _, sp := range pools {
		if v6 := sp.Subnet.Addr().Is6(); !holds[v6] {
			return v6, nil
		}
	}
	return pools[0].Subnet.Addr().Is6(), nil
}

func errNoNetwork(netID string) error {
	return fmt.Errorf("no address pools for network %q: %w", netID, errdefs.ErrNotFound)
}
