package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// AnonymousLabel marks a volume created without a name (Docker's
// com.docker.volume.anonymous, with the empty value). Prune without "all"
// removes only volumes that carry it.
const AnonymousLabel = "com.docker.volume.anonymous"

const (
	driverLocal = "local"

	dataDirName    = "_data"
	dbFileName     = "metadata.db"
	creatingPrefix = "_creating-"
	removingPrefix = "_removing-"

	rootPerm = 0o701 // the volumes directory and each <name> directory
	dataPerm = 0o755 // <name>/_data
)

// Volume is a volume as the API shows it.
type Volume struct {
	Name       string
	Driver     string // always "local"
	Mountpoint string // <root>/<name>/_data
	CreatedAt  time.Time
	Labels     map[string]string
	Options    map[string]string
	// Anonymous is true if the volume carries AnonymousLabel, as Create
	// sets it for a volume created without a name.
	Anonymous bool
}

// Store is the local volume driver and its metadata. It is safe for
// concurrent use.
type Store struct {
	root string
	db   *bolt.DB
	log  *slog.Logger

	mu   sync.Mutex        // guards vols and orders record writes with renames
	vols map[string]*entry // every volume

	pruning atomic.Bool
}

// entry is one volume's in-memory state.
type entry struct {
	v Volume // immutable once the entry is in Store.vols

	mu      sync.Mutex          // guards the fields below
	refs    map[string]struct{} // holders (container IDs)
	mounted bool                // an option volume's device is mounted on _data
	removed bool                // Remove took it away; the entry is stale
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l }
}

// Open opens the volume store rooted at root (<data-root>/volumes),
// creating it if needed, and repairs what a crash may have left (see the
// package documentation).
func Open(ctx context.Context, root string, opts ...Option) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open volumes %s: %w", root, err)
	}
	s := &Store{root: root, vols: map[string]*entry{}}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(root, rootPerm); err != nil {
		return nil, fmt.Errorf("open volumes %s: %w", root, err)
	}
	s.db, err = openDB(filepath.Join(root, dbFileName))
	if err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open volumes %s: %w", root, err), s.db.Close())
	}
	return s, nil
}

// load fills s.vols from the records and the directories, repairing any
// mismatch a crash left.
func (s *Store) load(ctx context.Context) error {
	recs, err := loadRecords(ctx, s.db)
	if err != nil {
		return err
	}
	dirents, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, d := range dirents {
		name := d.Name()
		if strings.HasPrefix(name, creatingPrefix) || strings.HasPrefix(name, removingPrefix) {
			s.log.InfoContext(ctx, "removing leftover volume directory", "path", name)
			if err := removeDir(filepath.Join(s.root, name)); err != nil {
				return err
			}
			continue
		}
		if d.IsDir() && validName(name) {
			dirs[name] = true
		}
	}
	for name, rec := range recs {
		if !dirs[name] {
			// Create writes the record before renaming the directory into
			// place, Remove renames it away before deleting the record:
			// either way the volume does not exist.
			s.log.WarnContext(ctx, "dropping volume record without directory", "volume", name)
			if err := deleteRecord(s.db, name); err != nil {
				return fmt.Errorf("drop volume %s: %w", name, err)
			}
			continue
		}
		if err := s.ensureDataDir(name); err != nil {
			return err
		}
		s.vols[name] = s.newEntry(name, rec)
	}
	for name := range dirs {
		if _, ok := recs[name]; ok {
			continue
		}
		fi, err := os.Lstat(s.dataPath(name))
		if err != nil || !fi.IsDir() {
			continue // not a volume directory
		}
		s.log.WarnContext(ctx, "adopting volume directory without record", "volume", name)
		rec := record{Driver: driverLocal, CreatedAt: fi.ModTime().UTC()}
		if err := putRecord(ctx, s.db, name, rec); err != nil {
			return fmt.Errorf("adopt volume %s: %w", name, err)
		}
		s.vols[name] = s.newEntry(name, rec)
	}
	return s.restoreMounted(ctx)
}

// ensureDataDir recreates <name>/_data if it is missing, and refuses one
// that is not a directory.
func (s *Store) ensureDataDir(name string) error {
	data := s.dataPath(name)
	fi, err := os.Lstat(data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(data, dataPerm); err != nil {
			return fmt.Errorf("repair volume %s: %w", name, err)
		}
		return os.Chmod(data, dataPerm)
	case err != nil:
		return fmt.Errorf("volume %s: %w", name, err)
	case !fi.IsDir():
		return fmt.Errorf("volume %s: %s is not a directory: %w", name, data, ErrCorrupt)
	}
	return nil
}

// restoreMounted marks option volumes whose device is still mounted from
// before a restart, so the first Mount does not mount it again.
func (s *Store) restoreMounted(ctx context.Context) error {
	var some bool
	for _, e := range s.vols {
		some = some || needsMount(e.v.Options)
	}
	if !some {
		return nil
	}
	points, err := mountpoints(s.root)
	if err != nil {
		s.log.WarnContext(ctx, "cannot tell which volumes are mounted", "err", err)
		return nil
	}
	for _, e := range s.vols {
		if needsMount(e.v.Options) && points[e.v.Mountpoint] {
			e.mounted = true
		}
	}
	return nil
}

func (s *Store) newEntry(name string, rec record) *entry {
	_, anon := rec.Labels[AnonymousLabel]
	return &entry{
		v: Volume{
			Name:       name,
			Driver:     rec.Driver,
			Mountpoint: s.dataPath(name),
			CreatedAt:  rec.CreatedAt,
			Labels:     rec.Labels,
			Options:    rec.Options,
			Anonymous:  anon,
		},
		refs: map[string]struct{}{},
	}
}

func (s *Store) dataPath(name string) string {
	return filepath.Join(s.root, name, dataDirName)
}

// Close closes the metadata database. Mounted option volumes stay
// mounted. The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close volumes: %w", err)
	}
	return nil
}

// Create creates a volume, or returns the existing volume of that name
// unchanged (as Docker does, even if opts or labels differ). An empty
// name creates an anonymous volume with a random 64-hex name and
// AnonymousLabel. driver is "" or "local"; any other is not found, as an
// absent plugin. opts are the local driver's type/device/o (see the
// package documentation).
func (s *Store) Create(ctx context.Context, name, driver string, opts, labels map[string]string) (Volume, error) {
	if err := ctx.Err(); err != nil {
		return Volume{}, err
	}
	if name == "" {
		id, err := randomID()
		if err != nil {
			return Volume{}, fmt.Errorf("create volume: %w", err)
		}
		name = id
		labels = maps.Clone(labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AnonymousLabel] = ""
	}
	if driver != "" && driver != driverLocal {
		return Volume{}, &OpError{Op: "create", Name: name, Err: &classError{
			msg:   fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", driver, driver),
			class: errdefs.ErrNotFound,
		}}
	}
	if err := ValidateName(name); err != nil {
		return Volume{}, &OpError{Op: "create", Name: name, Err: err}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.vols[name]; ok {
		return e.v.clone(), nil
	}
	if err := validateOptions(opts); err != nil {
		return Volume{}, &OpError{Op: "create", Name: name, Err: err}
	}
	rec := record{
		Driver:    driverLocal,
		CreatedAt: time.Now().UTC().Round(0),
		Labels:    maps.Clone(labels),
		Options:   maps.Clone(opts),
	}
	if err := s.create(ctx, name, rec); err != nil {
		return Volume{}, &OpError{Op: "create", Name: name, Err: err}
	}
	e := s.newEntry(name, rec)
	s.vols[name] = e
	s.log.DebugContext(ctx, "volume created", "volume", name)
	return e.v.clone(), nil
}

// create makes <name>/_data under a temporary name, writes the record
// and renames the directory into place; it undoes what it did on error.
// The caller holds s.mu.
func (s *Store) create(ctx context.Context, name string, rec record) (err error) {
	tmp, err := os.MkdirTemp(s.root, creatingPrefix+name+"-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	// MkdirTemp makes 0700; umask may have trimmed Mkdir's mode.
	if err := os.Chmod(tmp, rootPerm); err != nil {
		return err
	}
	data := filepath.Join(tmp, dataDirName)
	if err := os.Mkdir(data, dataPerm); err != nil {
		return err
	}
	if err := os.Chmod(data, dataPerm); err != nil {
		return err
	}
	if err := putRecord(ctx, s.db, name, rec); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.root, name)); err != nil {
		return errors.Join(err, deleteRecord(s.db, name))
	}
	return nil
}

// randomID is Docker's stringid.GenerateRandomID: 64 hex digits whose
// 12-digit short form is not a decimal number.
func randomID() (string, error) {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseInt(id[:12], 10, 64); err == nil {
			continue
		}
		return id, nil
	}
}

func (v Volume) clone() Volume {
	v.Labels = maps.Clone(v.Labels)
	v.Options = maps.Clone(v.Options)
	return v
}

// lookup returns the entry of name, or a "get NAME: no such volume"
// error of class errdefs.ErrNotFound.
func (s *Store) lookup(name string) (*entry, error) {
	s.mu.Lock()
	e, ok := s.vols[name]
	s.mu.Unlock()
	if !ok {
		return nil, &OpError{Op: "get", Name: name, Err: errNoSuchVolume}
	}
	return e, nil
}

// Get returns the volume name; a missing one is "get NAME: no such
// volume" of class errdefs.ErrNotFound.
func (s *Store) Get(ctx context.Context, name string) (Volume, error) {
	if err := ctx.Err(); err != nil {
		return Volume{}, err
	}
	e, err := s.lookup(name)
	if err != nil {
		return Volume{}, err
	}
	return e.v.clone(), nil
}

// List returns every volume, sorted by name.
func (s *Store) List(ctx context.Context) ([]Volume, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]Volume, 0, len(s.vols))
	for _, e := range s.vols {
		out = append(out, e.v.clone())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Remove removes the volume name and its data. A volume with refs is not
// removed, force or not: "remove NAME: volume is in use - [REF, ...]" of
// class errdefs.ErrConflict. A missing volume is "get NAME: no such
// volume" (ErrNotFound), or no error with force.
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	trash, err := s.detach(ctx, name)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err := removeDir(trash); err != nil {
		// The volume is gone; Open deletes the leftover directory.
		if force {
			s.log.WarnContext(ctx, "cannot delete removed volume's data", "volume", name, "err", err)
			return nil
		}
		return &OpError{Op: "remove", Name: name, Err: err}
	}
	return nil
}

// detach takes a volume out of the store: it checks refs, unmounts an
// option volume, renames the directory to a _removing- name and deletes
// the record. It returns the renamed directory, for the caller to delete.
func (s *Store) detach(ctx context.Context, name string) (string, error) {
	e, err := s.lookup(name)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return "", &OpError{Op: "get", Name: name, Err: errNoSuchVolume}
	}
	if len(e.refs) > 0 {
		return "", &OpError{Op: "remove", Name: name, Err: errInUse, Refs: sortedKeys(e.refs)}
	}
	if e.mounted || needsMount(e.v.Options) {
		if err := unmountData(e.v.Mountpoint); err != nil {
			return "", &OpError{Op: "remove", Name: name, Err: err}
		}
		e.mounted = false
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	trash, err := reserveName(s.root, removingPrefix+name+"-")
	if err != nil {
		return "", &OpError{Op: "remove", Name: name, Err: err}
	}
	if err := os.Rename(filepath.Join(s.root, name), trash); err != nil {
		return "", &OpError{Op: "remove", Name: name, Err: err}
	}
	if err := deleteRecord(s.db, name); err != nil {
		// Put the directory back: the volume still exists.
		return "", &OpError{Op: "remove", Name: name, Err: errors.Join(
			fmt.Errorf("delete metadata: %w", err),
			os.Rename(trash, filepath.Join(s.root, name)))}
	}
	delete(s.vols, name)
	e.removed = true
	s.log.DebugContext(ctx, "volume removed", "volume", name)
	return trash, nil
}

// reserveName returns a path in dir starting with prefix that does not
// exist yet.
func reserveName(dir, prefix string) (string, error) {
	b := make([]byte, 8)
	for range 10 {
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		p := filepath.Join(dir, prefix+hex.EncodeToString(b))
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free temporary name in %s", dir)
}

// Prune removes unused volumes (no refs) of the local driver that have
// no options, as Docker does: with all false only anonymous ones (API
// 1.42 and later). labelFilter, if not nil, selects among them by
// labels. It returns the names removed and the bytes their data used.
// Only one Prune runs at a time; another is an errdefs.ErrConflict.
func (s *Store) Prune(ctx context.Context, all bool, labelFilter func(labels map[string]string) bool) (removed []string, reclaimed uint64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if !s.pruning.CompareAndSwap(false, true) {
		return nil, 0, errPruneRunning
	}
	defer s.pruning.Store(false)

	var unused []Volume
	s.mu.Lock()
	for _, e := range s.vols {
		if len(e.v.Options) == 0 && (all || e.v.Anonymous) {
			unused = append(unused, e.v.clone())
		}
	}
	s.mu.Unlock()
	var candidates []string
	for _, v := range unused {
		if labelFilter == nil || labelFilter(v.Labels) {
			candidates = append(candidates, v.Name)
		}
	}
	slices.Sort(candidates)

	removed = []string{}
	for _, name := range candidates {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return removed, reclaimed, err
		}
		trash, err := s.detach(ctx, name)
		if err != nil {
			// In use, or removed meanwhile: not ours to prune.
			s.log.DebugContext(ctx, "volume not pruned", "volume", name, "err", err)
			continue
		}
		size, err := dirSize(ctx, filepath.Join(trash, dataDirName))
		if err != nil {
			s.log.WarnContext(ctx, "cannot measure pruned volume", "volume", name, "err", err)
		}
		removed = append(removed, name)
		reclaimed += uint64(size)
		if err := removeDir(trash); err != nil {
			s.log.WarnContext(ctx, "cannot delete pruned volume's data", "volume", name, "err", err)
		}
	}
	return removed, reclaimed, nil
}

// Mount adds ref (a container ID) to the volume's holders and returns its
// data directory. The first holder of an option volume mounts its
// device there. Refs are a set: mounting again with a ref already held
// changes nothing.
func (s *Store) Mount(ctx context.Context, name, ref string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if ref == "" {
		return "", &OpError{Op: "mount", Name: name, Err: invalidf("empty reference")}
	}
	e, err := s.lookup(name)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return "", &OpError{Op: "get", Name: name, Err: errNoSuchVolume}
	}
	if _, ok := e.refs[ref]; ok {
		return e.v.Mountpoint, nil
	}
	if err := s.checkDataDir(e); err != nil {
		return "", &OpError{Op: "mount", Name: name, Err: err}
	}
	if needsMount(e.v.Options) && !e.mounted {
		if err := mountData(e.v.Options, e.v.Mountpoint); err != nil {
			return "", &OpError{Op: "mount", Name: name, Err: err}
		}
		e.mounted = true
		s.log.DebugContext(ctx, "volume mounted", "volume", name)
	}
	e.refs[ref] = struct{}{}
	return e.v.Mountpoint, nil
}

// checkDataDir refuses a data directory that is not a real directory (a
// symlink there would lead a container's bind mount out of the volume).
func (s *Store) checkDataDir(e *entry) error {
	fi, err := os.Lstat(e.v.Mountpoint)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: %w", e.v.Mountpoint, ErrCorrupt)
	}
	return nil
}

// Unmount drops ref from the volume's holders; when the last goes, an
// option volume's device is unmounted. Dropping a ref that is not held
// is not an error.
func (s *Store) Unmount(ctx context.Context, name, ref string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := s.lookup(name)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return &OpError{Op: "get", Name: name, Err: errNoSuchVolume}
	}
	if _, ok := e.refs[ref]; !ok {
		return nil
	}
	// Like Docker, the ref goes even if unmounting fails: otherwise the
	// volume could never be removed.
	delete(e.refs, ref)
	if len(e.refs) > 0 || !e.mounted {
		return nil
	}
	e.mounted = false
	if err := unmountData(e.v.Mountpoint); err != nil {
		e.mounted = true
		return &OpError{Op: "unmount", Name: name, Err: err}
	}
	s.log.DebugContext(ctx, "volume unmounted", "volume", name)
	return nil
}

// Refs returns the holders of the volume name, sorted; nil if none or if
// there is no such volume.
func (s *Store) Refs(name string) []string {
	e, err := s.lookup(name)
	if err != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed || len(e.refs) == 0 {
		return nil
	}
	return sortedKeys(e.refs)
}

func sortedKeys(m map[string]struct{}) []string {
	return slices.Sorted(maps.Keys(m))
}

// Size returns the bytes used by the files in the volume's data
// directory (hard links counted once), for `docker system df`. A volume
// with options is not local data: its size is -1, "not available", and
// Docker leaves it out of df.
func (s *Store) Size(ctx context.Context, name string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	e, err := s.lookup(name)
	if err != nil {
		return 0, err
	}
	if len(e.v.Options) > 0 {
		return -1, nil
	}
	size, err := dirSize(ctx, e.v.Mountpoint)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, &OpError{Op: "get", Name: name, Err: errNoSuchVolume} // removed meanwhile
	}
	if err != nil {
		return 0, &OpError{Op: "size", Name: name, Err: err}
	}
	return size, nil
}

// CopyUp copies the contents of src, a directory of a container's root
// filesystem already resolved by the caller, into the volume name if the
// volume is empty, as Docker does when a new volume is mounted over a
// non-empty image directory. Ownership, modes, times, hard links,
// symlinks (as links, never followed), device nodes and, where the
// filesystem allows, extended attributes are kept; the volume's data
// directory takes src's own ownership, mode and attributes. A volume that
// is not empty is left alone; a src that is missing or not a directory
// copies nothing. On error, what was copied is deleted again.
//
// Call it after Mount: an option volume that is not mounted yet is
// mounted only for the copy, so a tmpfs volume would lose it again (as in
// Docker).
func (s *Store) CopyUp(ctx context.Context, name, src string) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	e, err := s.lookup(name)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return &OpError{Op: "get", Name: name, Err: errNoSuchVolume}
	}
	if err := s.checkDataDir(e); err != nil {
		return &OpError{Op: "copy up", Name: name, Err: err}
	}
	if needsMount(e.v.Options) && !e.mounted {
		// Copy into the mounted device, not the directory below it.
		if err := mountData(e.v.Options, e.v.Mountpoint); err != nil {
			return &OpError{Op: "copy up", Name: name, Err: err}
		}
		defer func() {
			if uerr := unmountData(e.v.Mountpoint); uerr != nil {
				err = errors.Join(err, &OpError{Op: "copy up", Name: name, Err: uerr})
			}
		}()
	}
	if err := copyUp(ctx, src, e.v.Mountpoint); err != nil {
		return &OpError{Op: "copy up", Name: name, Err: err}
	}
	return nil
}

// dirSize is Docker's directory.Size: the sum of the sizes of the
// non-directory files below dir, each inode once. Entries that vanish
// during the walk are skipped.
func dirSize(ctx context.Context, dir string) (int64, error) {
	var size int64
	seen := map[fileID]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if fi.Size() == 0 {
			return nil
		}
		if id, ok := fileIDOf(fi); ok {
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		size += fi.Size()
		return nil
	})
	return size, err
}
