package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Names inside the store root; the package doc draws the layout.
const (
	blobsDirName  = "blobs"
	ingestDirName = "ingest"

	dataFile      = "data"
	refFile       = "ref"
	startedAtFile = "startedat"
	totalFile     = "total"
	expectedFile  = "expected"
)

// LocalStore is a Store in a directory of the local file system.
type LocalStore struct {
	root string

	mu     sync.Mutex
	locked map[string]struct{} // refs with an open Writer in this process
}

var _ Store = (*LocalStore)(nil)

// NewStore opens the store rooted at root, creating its directories.
// Several LocalStores, in one process or several, may share a root.
func NewStore(root string) (*LocalStore, error) {
	if root == "" {
		return nil, fmt.Errorf("open content store: empty root: %w", errdefs.ErrInvalidArgument)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open content store %s: %w", root, err)
	}
	s := &LocalStore{root: abs, locked: make(map[string]struct{})}
	dirs := []struct {
		path string
		perm os.FileMode
	}{
		{abs, 0o711},
		{filepath.Join(abs, blobsDirName), 0o755},
		{s.blobsDir(), 0o755},
		{filepath.Join(abs, ingestDirName), 0o700},
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d.path, d.perm); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	// Make the directories themselves durable once, so that a blob
	// renamed into blobs/sha256 and synced there cannot lose its parent.
	for _, d := range []string{abs, filepath.Join(abs, blobsDirName)} {
		if err := syncDir(d); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	return s, nil
}

// Root is the directory the store lives in.
func (s *LocalStore) Root() string { return s.root }

func (s *LocalStore) blobsDir() string {
	return filepath.Join(s.root, blobsDirName, string(digest.SHA256))
}

// blobPath is the file of d, which must have passed validateDigest.
func (s *LocalStore) blobPath(d digest.Digest) string {
	return filepath.Join(s.blobsDir(), d.Encoded())
}

func (s *LocalStore) ingestDir(ref string) string {
	return filepath.Join(s.root, ingestDirName, refKey(ref))
}

// ReaderAt opens a committed blob.
func (s *LocalStore) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (ReaderAt, error) {
	if err := validateDigest(desc.Digest); err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	f, err := os.Open(s.blobPath(desc.Digest))
	if err != nil {
		return nil, blobError("open blob", desc.Digest, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob %s: %w", desc.Digest, err)
	}
	return &fileReaderAt{f: f, size: fi.Size()}, nil
}

type fileReaderAt struct {
	f    *os.File
	size int64
}

func (r *fileReaderAt) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }
func (r *fileReaderAt) Close() error                            { return r.f.Close() }
func (r *fileReaderAt) Size() int64                             { return r.size }

// Info describes a committed blob.
func (s *LocalStore) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	if err := validateDigest(dgst); err != nil {
		return Info{}, fmt.Errorf("blob info: %w", err)
	}
	fi, err := os.Lstat(s.blobPath(dgst))
	if err != nil {
		return Info{}, blobError("blob info", dgst, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("blob info %s: not a regular file: %w", dgst, errdefs.ErrFailedPrecondition)
	}
	return infoOf(dgst, fi), nil
}

func infoOf(dgst digest.Digest, fi fs.FileInfo) Info {
	return Info{Digest: dgst, Size: fi.Size(), CreatedAt: fi.ModTime(), UpdatedAt: fi.ModTime()}
}

// Update accepts only updates that change nothing: labels need the
// metadata database, which does not exist yet.
func (s *LocalStore) Update(ctx context.Context, info Info, fieldpaths ...string) (Info, error) {
	cur, err := s.Info(ctx, info.Digest)
	if err != nil {
		return Info{}, fmt.Errorf("update blob: %w", err)
	}
	if len(info.Labels) > 0 || len(fieldpaths) > 0 {
		return Info{}, fmt.Errorf("update blob %s: labels: %w", info.Digest, errdefs.ErrNotImplemented)
	}
	return cur, nil
}

// Walk visits the committed blobs that pass all filters.
func (s *LocalStore) Walk(ctx context.Context, fn WalkFunc, filters ...Filter) error {
	entries, err := os.ReadDir(s.blobsDir())
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
next:
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() || !isHex64(e.Name()) {
			continue // not ours; leave it alone
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		info := infoOf(digest.NewDigestFromEncoded(digest.SHA256, e.Name()), fi)
		for _, f := range filters {
			if !f(info) {
				continue next
			}
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes a committed blob.
func (s *LocalStore) Delete(ctx context.Context, dgst digest.Digest) error {
	if err := validateDigest(dgst); err != nil {
		return fmt.Errorf("delete blob: %w", err)
	}
	if err := os.Remove(s.blobPath(dgst)); err != nil {
		return blobError("delete blob", dgst, err)
	}
	return nil
}

func blobError(op string, dgst digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s %s: %w", op, dgst, errdefs.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, dgst, err)
}

// Writer opens, creating or resuming, the ingest named by WithRef.
func (s *LocalStore) Writer(ctx context.Context, opts ...WriterOpt) (Writer, error) {
	var wo WriterOpts
	for _, o := range opts {
		if err := o(&wo); err != nil {
			return nil, fmt.Errorf("open writer: %w", err)
		}
	}
	if err := validateRef(wo.Ref); err != nil {
		return nil, fmt.Errorf("open writer: %w", err)
	}
	desc := wo.Desc
	if desc.Size < 0 {
		return nil, fmt.Errorf("open writer %.80q: negative size %d: %w", wo.Ref, desc.Size, errdefs.ErrInvalidArgument)
	}
	if desc.Digest != "" {
		if err := validateDigest(desc.Digest); err != nil {
			return nil, fmt.Errorf("open writer %.80q: %w", wo.Ref, err)
		}
		if _, err := os.Lstat(s.blobPath(desc.Digest)); err == nil {
			return nil, fmt.Errorf("open writer %.80q: blob %s: %w", wo.Ref, desc.Digest, errdefs.ErrAlreadyExists)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := s.lockIngest(wo.Ref, true)
	if err != nil {
		return nil, fmt.Errorf("open writer %.80q: %w", wo.Ref, err)
	}
	w, err := s.openWriter(l, desc)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("open writer %.80q: %w", wo.Ref, err)
	}
	return w, nil
}

// openWriter starts or resumes the ingest locked by l.
func (s *LocalStore) openWriter(l *ingestLock, desc ocispec.Descriptor) (*writer, error) {
	meta, err := readIngestMeta(l.dir)
	if err == nil && meta.ref != l.ref {
		return nil, fmt.Errorf("ingest directory holds ref %.80q: %w", meta.ref, errdefs.ErrConflict)
	}
	dataPath := filepath.Join(l.dir, dataFile)
	if err != nil {
		// A new ingest, or one whose first Writer died before its
		// metadata was complete: start from nothing.
		if err := os.Remove(dataPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		meta = ingestMeta{ref: l.ref, startedAt: time.Now(), total: desc.Size, expected: desc.Digest}
		if err := meta.write(l.dir); err != nil {
			return nil, err
		}
	} else {
		changed := false
		if desc.Size > 0 && meta.total != desc.Size {
			if meta.total > 0 {
				return nil, fmt.Errorf("size %d, but the ingest expects %d: %w", desc.Size, meta.total, errdefs.ErrFailedPrecondition)
			}
			meta.total, changed = desc.Size, true
		}
		if desc.Digest != "" && meta.expected != desc.Digest {
			if meta.expected != "" {
				return nil, fmt.Errorf("digest %s, but the ingest expects %s: %w", desc.Digest, meta.expected, errdefs.ErrFailedPrecondition)
			}
			meta.expected, changed = desc.Digest, true
		}
		if changed {
			if err := meta.write(l.dir); err != nil {
				return nil, err
			}
		}
	}

	fp, err := os.OpenFile(dataPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	// Rebuild the hash state from what earlier writers left. They may
	// have been killed at any point; whatever bytes reached the file are
	// the ingest, and Commit checks them all.
	dg := digest.SHA256.Digester()
	n, err := fp.WriteTo(dg.Hash())
	if err != nil {
		fp.Close()
		return nil, fmt.Errorf("rehash ingest: %w", err)
	}
	fi, err := fp.Stat()
	if err != nil {
		fp.Close()
		return nil, err
	}
	return &writer{
		s:         s,
		lock:      l,
		fp:        fp,
		digester:  dg,
		offset:    n,
		total:     meta.total,
		expected:  meta.expected,
		startedAt: meta.startedAt,
		updatedAt: fi.ModTime(),
	}, nil
}

// Status describes the ingest ref.
func (s *LocalStore) Status(ctx context.Context, ref string) (Status, error) {
	if err := validateRef(ref); err != nil {
		return Status{}, fmt.Errorf("ingest status: %w", err)
	}
	st, err := ingestStatus(s.ingestDir(ref))
	if err != nil {
		return Status{}, fmt.Errorf("ingest status %.80q: %w", ref, err)
	}
	if st.Ref != ref {
		return Status{}, fmt.Errorf("ingest status %.80q: %w", ref, errdefs.ErrNotFound)
	}
	return st, nil
}

// ListStatuses describes every ingest. Ingests being created or removed
// while it runs may be missing from the list.
func (s *LocalStore) ListStatuses(ctx context.Context) ([]Status, error) {
	dir := filepath.Join(s.root, ingestDirName)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	var out []Status
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() || !isHex64(e.Name()) {
			continue
		}
		st, err := ingestStatus(filepath.Join(dir, e.Name()))
		if err != nil || refKey(st.Ref) != e.Name() {
			continue // half created, half removed, or not ours
		}
		out = append(out, st)
	}
	return out, nil
}

// ingestStatus reads an ingest's status without taking its lock.
func ingestStatus(dir string) (Status, error) {
	meta, err := readIngestMeta(dir)
	if err != nil {
		return Status{}, err
	}
	st := Status{
		Ref:       meta.ref,
		Total:     meta.total,
		Expected:  meta.expected,
		StartedAt: meta.startedAt,
		UpdatedAt: meta.startedAt,
	}
	fi, err := os.Stat(filepath.Join(dir, dataFile))
	switch {
	case err == nil:
		st.Offset, st.UpdatedAt = fi.Size(), fi.ModTime()
	case !errors.Is(err, fs.ErrNotExist):
		return Status{}, err
	}
	return st, nil
}

// Abort removes the ingest ref.
func (s *LocalStore) Abort(ctx context.Context, ref string) error {
	if err := validateRef(ref); err != nil {
		return fmt.Errorf("abort ingest: %w", err)
	}
	l, err := s.lockIngest(ref, false)
	if err != nil {
		return fmt.Errorf("abort ingest %.80q: %w", ref, err)
	}
	defer l.release()
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("abort ingest %.80q: %w", ref, err)
	}
	return nil
}

// ingestMeta is what the small files of an ingest directory hold.
type ingestMeta struct {
	ref       string
	startedAt time.Time
	total     int64
	expected  digest.Digest
}

// readIngestMeta reads an ingest's metadata. ErrNotFound means the ingest
// does not exist or its first Writer has not finished creating it (the ref
// file is written last).
func readIngestMeta(dir string) (ingestMeta, error) {
	ref, err := os.ReadFile(filepath.Join(dir, refFile))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(ref) == 0) {
		return ingestMeta{}, errdefs.ErrNotFound
	}
	if err != nil {
		return ingestMeta{}, err
	}
	m := ingestMeta{ref: string(ref)}
	b, err := os.ReadFile(filepath.Join(dir, startedAtFile))
	if err != nil {
		return ingestMeta{}, err
	}
	if m.startedAt, err = time.Parse(time.RFC3339Nano, string(b)); err != nil {
		return ingestMeta{}, fmt.Errorf("ingest %s: %w", startedAtFile, err)
	}
	if b, err = os.ReadFile(filepath.Join(dir, totalFile)); err != nil {
		return ingestMeta{}, err
	}
	if m.total, err = strconv.ParseInt(string(b), 10, 64); err != nil || m.total < 0 {
		return ingestMeta{}, fmt.Errorf("ingest %s %q: malformed", totalFile, b)
	}
	if b, err = os.ReadFile(filepath.Join(dir, expectedFile)); err != nil {
		return ingestMeta{}, err
	}
	if len(b) > 0 {
		m.expected = digest.Digest(b)
		if err := validateDigest(m.expected); err != nil {
			return ingestMeta{}, fmt.Errorf("ingest %s: %w", expectedFile, err)
		}
	}
	return m, nil
}

// write stores m in dir, each file replaced atomically and the ref file
// last, so a reader sees either no ref or complete metadata.
func (m ingestMeta) write(dir string) error {
	files := []struct{ name, value string }{
		{startedAtFile, m.startedAt.UTC().Format(time.RFC3339Nano)},
		{totalFile, strconv.FormatInt(m.total, 10)},
		{expectedFile, string(m.expected)},
		{refFile, m.ref},
	}
	for _, f := range files {
		tmp := filepath.Join(dir, f.name+".tmp")
		if err := os.WriteFile(tmp, []byte(f.value), 0o600); err != nil {
			return fmt.Errorf("write ingest %s: %w", f.name, err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, f.name)); err != nil {
			return fmt.Errorf("write ingest %s: %w", f.name, err)
		}
	}
	return nil
}

// ingestLock is a held ingest: the in-process ref lock plus the flock on
// the ingest directory.
type ingestLock struct {
	s   *LocalStore
	ref string
	dir string
	f   *os.File // the directory, flocked
}

// lockIngest takes both locks of ref, creating its directory if create.
// It fails with ErrUnavailable if either lock is held and, when !create,
// with ErrNotFound if there is no ingest.
func (s *LocalStore) lockIngest(ref string, create bool) (*ingestLock, error) {
	s.mu.Lock()
	if _, ok := s.locked[ref]; ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("ref locked: %w", errdefs.ErrUnavailable)
	}
	s.locked[ref] = struct{}{}
	s.mu.Unlock()

	l, err := s.lockIngestDir(ref, create)
	if err != nil {
		s.unlockRef(ref)
		return nil, err
	}
	return l, nil
}

func (s *LocalStore) lockIngestDir(ref string, create bool) (*ingestLock, error) {
	dir := s.ingestDir(ref)
	for range 3 {
		if create {
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		}
		f, err := os.Open(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if !create {
				return nil, errdefs.ErrNotFound
			}
			continue // removed by a committer between Mkdir and Open
		}
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, err
		}
		// Whoever held the lock before may have removed the directory
		// (Commit, Abort); a lock on an unlinked directory guards nothing.
		cur, err := os.Stat(dir)
		held, herr := f.Stat()
		if err == nil && herr == nil && os.SameFile(cur, held) {
			return &ingestLock{s: s, ref: ref, dir: dir, f: f}, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if herr != nil {
			return nil, herr
		}
		if !create && errors.Is(err, fs.ErrNotExist) {
			return nil, errdefs.ErrNotFound
		}
	}
	return nil, fmt.Errorf("ingest directory keeps changing: %w", errdefs.ErrUnavailable)
}

func (s *LocalStore) unlockRef(ref string) {
	s.mu.Lock()
	delete(s.locked, ref)
	s.mu.Unlock()
}

// release drops both locks. The flock goes with the last descriptor.
func (l *ingestLock) release() {
	l.f.Close()
	l.s.unlockRef(l.ref)
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
