package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/snapshot"
)

var (
	bucketV1        = []byte("v1")
	bucketSnapshots = []byte("snapshots")
	bucketChildren  = []byte("children")
	bucketLabels    = []byte("labels")

	keyID      = []byte("id")
	keyKind    = []byte("kind")
	keyParent  = []byte("parent")
	keyCreated = []byte("created")
	keyUpdated = []byte("updated")
	keyInodes  = []byte("inodes")
	keySize    = []byte("size")
)

const (
	dbName         = "metadata.db"
	snapshotsDir   = "snapshots"
	newPrefix      = "new-"
	removingPrefix = "removing-"
)

// Snapshot is what an implementation needs to know to build mounts.
type Snapshot struct {
	// ID names the snapshot's directory (see Store.Dir).
	ID string
	// Kind is the snapshot's kind.
	Kind snapshot.Kind
	// ParentIDs are the ids of the parent chain, nearest parent first.
	ParentIDs []string
}

// Store is the metadata of one snapshotter root. It is safe for concurrent
// use.
type Store struct {
	root string
	db   *bolt.DB

	// testHookBeforeCommit runs inside Create's write transaction after the
	// directory got its final name; tests panic in it to simulate a crash.
	testHookBeforeCommit func()
}

// Open opens (creating if needed) the store under root and deletes
// directories left without metadata by a crash.
func Open(ctx context.Context, root string) (*Store, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("snapshotter root %q is not absolute: %w", root, errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Join(root, snapshotsDir), 0o700); err != nil {
		return nil, fmt.Errorf("create snapshotter root: %w", err)
	}
	db, err := bolt.Open(filepath.Join(root, dbName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			err = fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable)
		}
		return nil, fmt.Errorf("open snapshot metadata in %s: %w", root, err)
	}
	s := &Store{root: root, db: db}
	if err := db.Update(func(tx *bolt.Tx) error {
		v1, err := tx.CreateBucketIfNotExists(bucketV1)
		if err != nil {
			return err
		}
		if _, err := v1.CreateBucketIfNotExists(bucketSnapshots); err != nil {
			return err
		}
		_, err = v1.CreateBucketIfNotExists(bucketChildren)
		return err
	}); err != nil {
		return nil, errors.Join(fmt.Errorf("initialise snapshot metadata: %w", err), db.Close())
	}
	if err := s.cleanup(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

// Close closes the metadata database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close snapshot metadata: %w", err)
	}
	return nil
}

// Dir returns the directory of the snapshot with id.
func (s *Store) Dir(id string) string {
	return filepath.Join(s.root, snapshotsDir, id)
}

// cleanup deletes every entry of snapshots/ that is not a recorded id.
func (s *Store) cleanup(ctx context.Context) error {
	ids := map[string]bool{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		return snapshotsBucket(tx).ForEachBucket(func(name []byte) error {
			id := string(snapshotsBucket(tx).Bucket(name).Get(keyID))
			ids[id] = true
			return nil
		})
	}); err != nil {
		return fmt.Errorf("list snapshot ids: %w", err)
	}
	dir := filepath.Join(s.root, snapshotsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list snapshot directories: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ids[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("remove orphaned snapshot directory %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func snapshotsBucket(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket(bucketV1).Bucket(bucketSnapshots)
}

func childrenBucket(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket(bucketV1).Bucket(bucketChildren)
}

// record is a snapshot bucket decoded.
type record struct {
	info   snapshot.Info
	id     string
	usage  snapshot.Usage
	bucket *bolt.Bucket
}

func getRecord(tx *bolt.Tx, key string) (record, error) {
	b := snapshotsBucket(tx).Bucket([]byte(key))
	if b == nil {
		return record{}, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
	}
	r := record{bucket: b, id: string(b.Get(keyID))}
	r.info.Name = key
	if k := b.Get(keyKind); len(k) == 1 {
		r.info.Kind = snapshot.Kind(k[0])
	}
	r.info.Parent = string(b.Get(keyParent))
	if err := r.info.Created.UnmarshalBinary(b.Get(keyCreated)); err != nil {
		return record{}, fmt.Errorf("decode created time of snapshot %q: %w", key, err)
	}
	if err := r.info.Updated.UnmarshalBinary(b.Get(keyUpdated)); err != nil {
		return record{}, fmt.Errorf("decode updated time of snapshot %q: %w", key, err)
	}
	r.info.Labels = map[string]string{}
	if lb := b.Bucket(bucketLabels); lb != nil {
		if err := lb.ForEach(func(k, v []byte) error {
			r.info.Labels[string(k)] = string(v)
			return nil
		}); err != nil {
			return record{}, err
		}
	}
	if v := b.Get(keyInodes); v != nil {
		n, _ := binary.Uvarint(v)
		r.usage.Inodes = int64(n)
	}
	if v := b.Get(keySize); v != nil {
		n, _ := binary.Uvarint(v)
		r.usage.Size = int64(n)
	}
	if r.id == "" || r.info.Kind == snapshot.KindUnknown {
		return record{}, fmt.Errorf("snapshot %q has corrupt metadata (id %q, kind %v)", key, r.id, r.info.Kind)
	}
	return r, nil
}

// putRecord writes a snapshot bucket for info with id, and indexes it as a
// child of its parent.
func putRecord(tx *bolt.Tx, info snapshot.Info, id string, usage *snapshot.Usage) error {
	b, err := snapshotsBucket(tx).CreateBucket([]byte(info.Name))
	if err != nil {
		if errors.Is(err, bolterrors.ErrBucketExists) {
			return fmt.Errorf("snapshot %q: %w", info.Name, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("create metadata of snapshot %q: %w", info.Name, err)
	}
	created, err := info.Created.MarshalBinary()
	if err != nil {
		return err
	}
	updated, err := info.Updated.MarshalBinary()
	if err != nil {
		return err
	}
	puts := [][2][]byte{
		{keyID, []byte(id)},
		{keyKind, {byte(info.Kind)}},
		{keyCreated, created},
		{keyUpdated, updated},
	}
	if info.Parent != "" {
		puts = append(puts, [2][]byte{keyParent, []byte(info.Parent)})
	}
	if usage != nil {
		puts = append(puts,
			[2][]byte{keyInodes, binary.AppendUvarint(nil, uint64(usage.Inodes))},
			[2][]byte{keySize, binary.AppendUvarint(nil, uint64(usage.Size))})
	}
	for _, kv := range puts {
		if err := b.Put(kv[0], kv[1]); err != nil {
			return fmt.Errorf("write metadata of snapshot %q: %w", info.Name, err)
		}
	}
	if len(info.Labels) > 0 {
		lb, err := b.CreateBucket(bucketLabels)
		if err != nil {
			return err
		}
		for k, v := range info.Labels {
			if err := lb.Put([]byte(k), []byte(v)); err != nil {
				return fmt.Errorf("write label %q of snapshot %q: %w", k, info.Name, err)
			}
		}
	}
	if info.Parent != "" {
		cb, err := childrenBucket(tx).CreateBucketIfNotExists([]byte(info.Parent))
		if err != nil {
			return fmt.Errorf("index snapshot %q under %q: %w", info.Name, info.Parent, err)
		}
		if err := cb.Put([]byte(info.Name), nil); err != nil {
			return fmt.Errorf("index snapshot %q under %q: %w", info.Name, info.Parent, err)
		}
	}
	return nil
}

// deleteRecord removes key's bucket and its entry in its parent's index.
func deleteRecord(tx *bolt.Tx, key, parent string) error {
	if parent != "" {
		if cb := childrenBucket(tx).Bucket([]byte(parent)); cb != nil {
			if err := cb.Delete([]byte(key)); err != nil {
				return err
			}
			if k, _ := cb.Cursor().First(); k == nil {
				if err := childrenBucket(tx).DeleteBucket([]byte(parent)); err != nil {
					return err
				}
			}
		}
	}
	return snapshotsBucket(tx).DeleteBucket([]byte(key))
}

func hasChildren(tx *bolt.Tx, key string) bool {
	cb := childrenBucket(tx).Bucket([]byte(key))
	if cb == nil {
		return false
	}
	k, _ := cb.Cursor().First()
	return k != nil
}

// chain returns the ids of parent and its ancestors, nearest first.
func chain(tx *bolt.Tx, parent string) ([]string, error) {
	var ids []string
	for p := parent; p != ""; {
		r, err := getRecord(tx, p)
		if err != nil {
			return nil, fmt.Errorf("parent chain: %w", err)
		}
		if r.info.Kind != snapshot.KindCommitted {
			return nil, fmt.Errorf("parent %q is %v, not committed: %w", p, r.info.Kind, errdefs.ErrFailedPrecondition)
		}
		ids = append(ids, r.id)
		p = r.info.Parent
		if len(ids) > 1<<16 {
			return nil, fmt.Errorf("parent chain of %q loops", parent)
		}
	}
	return ids, nil
}

// Stat returns the Info of the snapshot key.
func (s *Store) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	if err := snapshot.ValidateKey(key); err != nil {
		return snapshot.Info{}, err
	}
	var info snapshot.Info
	err := s.db.View(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, key)
		info = r.info
		return err
	})
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("stat: %w", err)
	}
	return info, nil
}

// Get returns the id, kind and parent chain of the snapshot key.
func (s *Store) Get(ctx context.Context, key string) (Snapshot, error) {
	if err := snapshot.ValidateKey(key); err != nil {
		return Snapshot{}, err
	}
	var snap Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		parents, err := chain(tx, r.info.Parent)
		if err != nil {
			return err
		}
		snap = Snapshot{ID: r.id, Kind: r.info.Kind, ParentIDs: parents}
		return nil
	})
	if err != nil {
		return Snapshot{}, fmt.Errorf("get snapshot: %w", err)
	}
	return snap, nil
}

// FillFunc fills dir, the directory of a snapshot being created, whose
// parent chain has parentIDs (nearest first). dir exists and is empty.
type FillFunc func(ctx context.Context, dir string, parentIDs []string) error

// Create records a new active snapshot or view key on parent. fill
// prepares its directory before the metadata is written; the directory
// gets its final name inside the transaction that records it.
func (s *Store) Create(ctx context.Context, kind snapshot.Kind, key, parent string, opts []snapshot.Opt, fill FillFunc) (Snapshot, error) {
	if kind != snapshot.KindActive && kind != snapshot.KindView {
		return Snapshot{}, fmt.Errorf("create snapshot of kind %v: %w", kind, errdefs.ErrInvalidArgument)
	}
	if err := snapshot.ValidateKey(key); err != nil {
		return Snapshot{}, err
	}
	if parent != "" {
		if err := snapshot.ValidateKey(parent); err != nil {
			return Snapshot{}, fmt.Errorf("parent: %w", err)
		}
	}
	info, err := snapshot.ApplyOpts(opts...)
	if err != nil {
		return Snapshot{}, err
	}

	// Check early, so a doomed call does not copy a whole tree first.
	var parentIDs []string
	if err := s.db.View(func(tx *bolt.Tx) error {
		if snapshotsBucket(tx).Bucket([]byte(key)) != nil {
			return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
		}
		parentIDs, err = chain(tx, parent)
		return err
	}); err != nil {
		return Snapshot{}, fmt.Errorf("create snapshot %q: %w", key, err)
	}

	tmp, err := os.MkdirTemp(filepath.Join(s.root, snapshotsDir), newPrefix)
	if err != nil {
		return Snapshot{}, fmt.Errorf("create snapshot %q: %w", key, err)
	}
	final := ""
	discard := func() error {
		var errs []error
		for _, d := range []string{tmp, final} {
			if d == "" {
				continue
			}
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	if err := fill(ctx, tmp, parentIDs); err != nil {
		return Snapshot{}, errors.Join(fmt.Errorf("create snapshot %q: %w", key, err), discard())
	}

	var snap Snapshot
	err = s.db.Update(func(tx *bolt.Tx) error {
		ids, err := chain(tx, parent)
		if err != nil {
			return err
		}
		if !equal(ids, parentIDs) {
			return fmt.Errorf("parent %q changed while creating: %w", parent, errdefs.ErrConflict)
		}
		seq, err := snapshotsBucket(tx).NextSequence()
		if err != nil {
			return err
		}
		id := strconv.FormatUint(seq, 10)
		now := time.Now().UTC()
		info.Kind, info.Name, info.Parent, info.Created, info.Updated = kind, key, parent, now, now
		if err := putRecord(tx, info, id, nil); err != nil {
			return err
		}
		final = s.Dir(id)
		if err := os.Rename(tmp, final); err != nil {
			final = ""
			return fmt.Errorf("rename snapshot directory: %w", err)
		}
		tmp = ""
		if s.testHookBeforeCommit != nil {
			s.testHookBeforeCommit()
		}
		snap = Snapshot{ID: id, Kind: kind, ParentIDs: parentIDs}
		return nil
	})
	if err != nil {
		return Snapshot{}, errors.Join(fmt.Errorf("create snapshot %q: %w", key, err), discard())
	}
	return snap, nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MeasureFunc measures the disk used by a snapshot's directory.
type MeasureFunc func(ctx context.Context, dir string) (snapshot.Usage, error)

// Commit turns the active snapshot key into the committed snapshot name,
// recording its usage as measure reports it.
func (s *Store) Commit(ctx context.Context, name, key string, measure MeasureFunc, opts []snapshot.Opt) error {
	if err := snapshot.ValidateKey(name); err != nil {
		return fmt.Errorf("commit: name: %w", err)
	}
	if err := snapshot.ValidateKey(key); err != nil {
		return fmt.Errorf("commit: key: %w", err)
	}
	info, err := snapshot.ApplyOpts(opts...)
	if err != nil {
		return fmt.Errorf("commit %q: %w", key, err)
	}
	var id string
	if err := s.db.View(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		if r.info.Kind != snapshot.KindActive {
			return fmt.Errorf("snapshot %q is %v, not active: %w", key, r.info.Kind, errdefs.ErrFailedPrecondition)
		}
		if snapshotsBucket(tx).Bucket([]byte(name)) != nil {
			return fmt.Errorf("snapshot %q: %w", name, errdefs.ErrAlreadyExists)
		}
		id = r.id
		return nil
	}); err != nil {
		return fmt.Errorf("commit %q as %q: %w", key, name, err)
	}
	usage, err := measure(ctx, s.Dir(id))
	if err != nil {
		return fmt.Errorf("commit %q as %q: %w", key, name, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		if r.info.Kind != snapshot.KindActive || r.id != id {
			return fmt.Errorf("snapshot %q changed while committing: %w", key, errdefs.ErrConflict)
		}
		if hasChildren(tx, key) {
			return fmt.Errorf("snapshot %q has children: %w", key, errdefs.ErrFailedPrecondition)
		}
		if err := deleteRecord(tx, key, r.info.Parent); err != nil {
			return err
		}
		now := time.Now().UTC()
		info.Kind, info.Name, info.Parent, info.Created, info.Updated = snapshot.KindCommitted, name, r.info.Parent, now, now
		return putRecord(tx, info, id, &usage)
	})
	if err != nil {
		return fmt.Errorf("commit %q as %q: %w", key, name, err)
	}
	return nil
}

// Remove deletes the snapshot key: its metadata, then its directory.
func (s *Store) Remove(ctx context.Context, key string) error {
	if err := snapshot.ValidateKey(key); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	var id string
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, key)
		if err != nil {
			return err
		}
		if hasChildren(tx, key) {
			return fmt.Errorf("snapshot %q has children: %w", key, errdefs.ErrFailedPrecondition)
		}
		id = r.id
		return deleteRecord(tx, key, r.info.Parent)
	})
	if err != nil {
		return fmt.Errorf("remove snapshot: %w", err)
	}
	// The snapshot is gone; what follows only frees disk. A failure leaves
	// a directory without metadata, which the next Open deletes.
	doomed := filepath.Join(s.root, snapshotsDir, removingPrefix+id)
	if err := os.Rename(s.Dir(id), doomed); err == nil {
		_ = os.RemoveAll(doomed)
	}
	return nil
}

// Walk calls fn for every snapshot, outside the transaction that read them.
func (s *Store) Walk(ctx context.Context, fn snapshot.WalkFunc) error {
	var infos []snapshot.Info
	if err := s.db.View(func(tx *bolt.Tx) error {
		return snapshotsBucket(tx).ForEachBucket(func(k []byte) error {
			r, err := getRecord(tx, string(k))
			if err != nil {
				return err
			}
			infos = append(infos, r.info)
			return nil
		})
	}); err != nil {
		return fmt.Errorf("walk snapshots: %w", err)
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// Usage returns the usage recorded at commit for a committed snapshot, and
// measures the directory of any other.
func (s *Store) Usage(ctx context.Context, key string, measure MeasureFunc) (snapshot.Usage, error) {
	if err := snapshot.ValidateKey(key); err != nil {
		return snapshot.Usage{}, fmt.Errorf("usage: %w", err)
	}
	var r record
	if err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecord(tx, key)
		return err
	}); err != nil {
		return snapshot.Usage{}, fmt.Errorf("usage: %w", err)
	}
	if r.info.Kind == snapshot.KindCommitted {
		return r.usage, nil
	}
	u, err := measure(ctx, s.Dir(r.id))
	if err != nil {
		return snapshot.Usage{}, fmt.Errorf("usage of %q: %w", key, err)
	}
	return u, nil
}

// DiskUsage counts the distinct inodes below dir (dir included) and the
// bytes they have allocated. Hard links count once.
func DiskUsage(ctx context.Context, dir string) (snapshot.Usage, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var u snapshot.Usage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := statT(fi)
		if !ok {
			return fmt.Errorf("stat %s: no inode information", path)
		}
		k := inode{uint64(st.Dev), st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		u.Inodes++
		u.Size += int64(st.Blocks) * 512
		return nil
	})
	if err != nil {
		return snapshot.Usage{}, fmt.Errorf("measure %s: %w", dir, err)
	}
	return u, nil
}
