package logfile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PollInterval is how often a following Read looks for new records.
const PollInterval = 50 * time.Millisecond

const readChunk = 32 << 10

// Message is one record read back.
type Message struct {
	Stream string    // "stdout" or "stderr"
	Line   []byte    // the line, with its "\n" unless it was partial
	Time   time.Time // when it was logged
}

// ReadConfig selects the records Read sends.
type ReadConfig struct {
	// Since and Until bound the records' times, both inclusive; zero means
	// unbounded. Records before Since are skipped until the first one that
	// is not; the first record after Until ends the read.
	Since, Until time.Time
	// Tail, if >= 0, keeps only the last Tail records (across rotated
	// files) present when Read starts, before Since and Until apply.
	// Negative means all.
	Tail int
	// Follow keeps reading records as they are written, until ctx is
	// done or Done is closed.
	Follow bool
	// Done, when following, is closed once no more records will be
	// written (the container stopped): Read then reads what is left and
	// returns nil.
	Done <-chan struct{}
}

// errStop ends a read at the first record after Until.
var errStop = errors.New("until reached")

// Read sends the records of the log at path, its rotated files first
// (oldest first), to out in order. It returns nil once all is read (or,
// when following, once Done is closed and all is read), ctx.Err() when
// ctx is done, and out's error, unchanged, if out fails. A missing log is
// empty; lines that are not records are skipped.
func Read(ctx context.Context, path string, cfg ReadConfig, out func(Message) error) error {
	segs, err := openChain(path)
	if err != nil {
		return fmt.Errorf("read log %s: %w", path, err)
	}
	defer func() {
		for _, s := range segs {
			s.close()
		}
	}()

	r := &reader{
		path: path,
		ctx:  ctx,
		out:  out,
		filt: filter{since: cfg.Since, until: cfg.Until},
		buf:  make([]byte, readChunk),
	}
	start, off := 0, int64(0)
	if cfg.Tail >= 0 && len(segs) > 0 {
		start, off, err = r.tailStart(segs, cfg.Tail, cfg.Follow)
		if err != nil {
			return fmt.Errorf("read log %s: %w", path, err)
		}
	}

	var cur *segment
	for i := start; i < len(segs); i++ {
		s := segs[i]
		if i == start {
			s.off = off
		}
		if cfg.Follow && i == len(segs)-1 {
			cur = s
			segs[i] = nil // closed by follow
			break
		}
		limit := int64(-1)
		if !cfg.Follow {
			limit = s.fi.Size() // records written after Read started are not for us
		}
		err := s.scan(r.buf, limit, true, r.emit)
		s.close()
		if err != nil {
			return r.result(err)
		}
	}
	if !cfg.Follow {
		return nil
	}
	return r.result(r.follow(cur, cfg.Done))
}

// reader is the state of one Read.
type reader struct {
	path string
	ctx  context.Context // of the one Read call this reader lives in
	out  func(Message) error
	filt filter
	buf  []byte
}

func (r *reader) result(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// emit decodes line and sends it if the filter lets it through.
func (r *reader) emit(line []byte) error {
	m, ok := decode(line)
	if !ok {
		return nil
	}
	send, stop := r.filt.check(m.Time)
	if stop {
		return errStop
	}
	if !send {
		return nil
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	return r.out(m)
}

// follow reads cur (nil if there is no log file yet) and the files that
// come after it as they are written.
func (r *reader) follow(cur *segment, done <-chan struct{}) error {
	defer func() { cur.close() }()
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	finishing := false
	for {
		if cur != nil {
			if err := cur.scan(r.buf, -1, false, r.emit); err != nil {
				return err
			}
		}
		next, err := r.next(cur)
		if err != nil {
			return err
		}
		if next != nil {
			// cur was rotated away: whatever it still holds comes
			// before next.
			if cur != nil {
				err := cur.scan(r.buf, -1, true, r.emit)
				cur.close()
				if err != nil {
					next.close()
					return err
				}
			}
			cur = next
			continue
		}
		if finishing {
			if cur != nil {
				return cur.scan(r.buf, -1, true, r.emit)
			}
			return nil
		}
		select {
		case <-r.ctx.Done():
			return r.ctx.Err()
		case <-done:
			// Nothing more will be written: one more pass.
			finishing, done = true, nil
		case <-tick.C:
		}
	}
}

// next returns the file that follows cur (the oldest one if cur is nil),
// opened, or nil if there is none yet.
func (r *reader) next(cur *segment) (*segment, error) {
	if cur != nil {
		fi, err := os.Stat(r.path)
		if err == nil && os.SameFile(fi, cur.fi) {
			return nil, nil // cur is still the current file
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("follow log: %w", err)
		}
	}
	for range 10 {
		files, ok, err := stableChain(r.path)
		if err != nil {
			return nil, fmt.Errorf("follow log: %w", err)
		}
		if !ok {
			continue
		}
		i := 0
		if cur != nil {
			i = slices.IndexFunc(files, func(e chainFile) bool { return os.SameFile(e.fi, cur.fi) })
			if i < 0 {
				// Not listed: either it was deleted (rotated out, or
				// removed with max-file 1), and every file listed is
				// newer, or the listing raced a rotation: try again.
				if linked, err := cur.linked(); err != nil {
					return nil, fmt.Errorf("follow log: %w", err)
				} else if linked {
					continue
				}
			}
			i++
		}
		if i >= len(files) {
			return nil, nil
		}
		s, err := openSegment(files[i])
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errMoved) {
				continue
			}
			return nil, fmt.Errorf("follow log: %w", err)
		}
		return s, nil
	}
	return nil, nil // rotations keep racing the listing: next poll
}

// tailStart returns where the last n records of segs start: the index of a
// segment and an offset in it. When following, a trailing line without a
// newline in the last segment is not a record yet.
func (r *reader) tailStart(segs []*segment, n int, follow bool) (int, int64, error) {
	last := len(segs) - 1
	if n == 0 {
		s := segs[last]
		end := s.fi.Size()
		if follow {
			b := backReader{f: s.f, buf: r.buf}
			nl, err := b.lastNewline(end)
			if err != nil {
				return 0, 0, err
			}
			end = nl + 1
		}
		return last, end, nil
	}
	for i := last; i >= 0; i-- {
		off, found, err := tailOffset(segs[i].f, segs[i].fi.Size(), n, !follow || i < last, r.buf)
		if err != nil {
			return 0, 0, err
		}
		if n -= found; n == 0 {
			return i, off, nil
		}
	}
	return 0, 0, nil
}

// tailOffset returns the offset in the first end bytes of f where its last
// n records start, and how many records (at most n) there are from there.
// Lines are cut as segment.scan cuts them; a trailing line without a
// newline counts only if final.
func tailOffset(f *os.File, end int64, n int, final bool, buf []byte) (int64, int, error) {
	b := backReader{f: f, buf: buf}
	nl, err := b.lastNewline(end)
	if err != nil {
		return 0, 0, err
	}
	lineEnd := end // exclusive end of the last line, its newline excluded
	if nl == end-1 || !final {
		lineEnd = nl
		if lineEnd < 0 {
			return 0, 0, nil
		}
	}
	found := 0
	var scratch []byte
	for {
		nl, err := b.lastNewline(lineEnd)
		if err != nil {
			return 0, 0, err
		}
		start := nl + 1
		if lineEnd-start <= MaxRecordSize {
			line, err := b.slice(start, lineEnd, &scratch)
			if err != nil {
				return 0, 0, err
			}
			if _, ok := decode(line); ok {
				if found++; found == n {
					return start, found, nil
				}
			}
		}
		if nl < 0 {
			return 0, found, nil
		}
		lineEnd = nl
	}
}

// backReader reads a file backwards through a window.
type backReader struct {
	f   *os.File
	buf []byte
	off int64 // file offset of buf[0]
	n   int   // valid bytes in buf
}

// lastNewline returns the offset of the last '\n' before offset before, or
// -1.
func (b *backReader) lastNewline(before int64) (int64, error) {
	for before > 0 {
		if before-1 < b.off || before > b.off+int64(b.n) {
			start := max(0, before-int64(len(b.buf)))
			want := int(before - start)
			n, err := b.f.ReadAt(b.buf[:want], start)
			if n < want {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF // the file shrank
				}
				b.n = 0
				return 0, fmt.Errorf("read %s: %w", b.f.Name(), err)
			}
			b.off, b.n = start, n
		}
		if i := bytes.LastIndexByte(b.buf[:before-b.off], '\n'); i >= 0 {
			return b.off + int64(i), nil
		}
		before = b.off
	}
	return -1, nil
}

// slice returns the bytes [start, end) of the file, from the window if it
// holds them, else read into *scratch.
func (b *backReader) slice(start, end int64, scratch *[]byte) ([]byte, error) {
	if start >= b.off && end <= b.off+int64(b.n) {
		return b.buf[start-b.off : end-b.off], nil
	}
	if int64(cap(*scratch)) < end-start {
		*scratch = make([]byte, end-start)
	}
	p := (*scratch)[:end-start]
	if n, err := b.f.ReadAt(p, start); n < len(p) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %s: %w", b.f.Name(), err)
	}
	return p, nil
}

// filter applies Since and Until.
type filter struct{ since, until time.Time }

// check reports whether a record at t is sent, and whether reading stops.
func (f *filter) check(t time.Time) (send, stop bool) {
	if !f.since.IsZero() {
		if t.Before(f.since) {
			return false, false
		}
		// Times need not be monotonic: once a record is in, so are the
		// rest (as in Docker).
		f.since = time.Time{}
	}
	if !f.until.IsZero() && t.After(f.until) {
		return false, true
	}
	return true, false
}

// record is the JSON form of a line. Docker's "attrs" is ignored.
type record struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// decode parses one line; ok is false if it is not a record.
func decode(line []byte) (Message, bool) {
	if t := bytes.TrimLeft(line, " \t\r"); len(t) == 0 || t[0] != '{' {
		return Message{}, false
	}
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return Message{}, false
	}
	return Message{Stream: rec.Stream, Line: []byte(rec.Log), Time: rec.Time}, true
}

// segment is one log file open for reading, and how far it has been read.
type segment struct {
	f       *os.File
	fi      os.FileInfo // identity, and size when opened
	off     int64       // next byte to read
	pending []byte      // a line without its newline yet
	skip    bool        // discarding a line longer than MaxRecordSize
}

var errMoved = errors.New("log file moved while being opened")

// openSegment opens a listed file and checks it is still the one listed.
func openSegment(e chainFile) (*segment, error) {
	f, err := os.Open(e.name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !os.SameFile(fi, e.fi) {
		f.Close()
		return nil, errMoved
	}
	return &segment{f: f, fi: fi}, nil
}

func (s *segment) close() {
	if s != nil && s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// linked reports whether the file still has a name.
func (s *segment) linked() (bool, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return false, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Nlink > 0, nil
	}
	return true, nil
}

// scan reads s from s.off up to limit (-1: its end) and calls emit with
// every line, its newline excluded. If final, a trailing line without a
// newline is emitted too; otherwise it is kept for the next scan.
func (s *segment) scan(buf []byte, limit int64, final bool, emit func([]byte) error) error {
	for {
		want := len(buf)
		if limit >= 0 {
			want = int(min(int64(want), limit-s.off))
		}
		if want <= 0 {
			break
		}
		n, err := s.f.ReadAt(buf[:want], s.off)
		if n > 0 {
			s.off += int64(n)
			if err := s.feed(buf[:n], emit); err != nil {
				return err
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("read %s: %w", s.f.Name(), err)
		}
	}
	if final {
		line := s.pending
		skip := s.skip
		s.pending, s.skip = s.pending[:0], false
		if len(line) > 0 && !skip {
			return emit(line)
		}
	}
	return nil
}

// feed cuts data into lines, joining the pending start of a line.
func (s *segment) feed(data []byte, emit func([]byte) error) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if !s.skip {
				if len(s.pending)+len(data) > MaxRecordSize {
					s.pending, s.skip = nil, true
				} else {
					s.pending = append(s.pending, data...)
				}
			}
			return nil
		}
		chunk := data[:i]
		data = data[i+1:]
		if s.skip || len(s.pending)+len(chunk) > MaxRecordSize {
			s.pending, s.skip = s.pending[:0], false
			continue
		}
		line := chunk
		if len(s.pending) > 0 {
			s.pending = append(s.pending, chunk...)
			line = s.pending
		}
		err := s.emit(emit, line)
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *segment) emit(emit func([]byte) error, line []byte) error {
	err := emit(line)
	if cap(s.pending) > 64<<10 {
		s.pending = nil
	} else {
		s.pending = s.pending[:0]
	}
	return err
}

// chainFile is a log file found by listChain.
type chainFile struct {
	name string
	fi   os.FileInfo
}

// listChain lists the regular files path.N ... path.1, path that exist,
// oldest first. ok is false if a rotation got in the way.
//
// The files are looked at newest first, while rotation renames them
// oldest first, each one name up: a rotation during the listing cannot
// make it miss a file, only see one twice, which is reported as !ok. A
// rotation between reading the directory and looking at the files can
// only hide the oldest one.
func listChain(path string) (files []chainFile, ok bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, true, nil
		}
		return nil, false, err
	}
	type rotated struct {
		n    int
		name string
	}
	rs := []rotated{{0, path}}
	for _, e := range ents {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(suffix)
		if err != nil || n < 1 || strconv.Itoa(n) != suffix {
			continue
		}
		rs = append(rs, rotated{n, filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(rs, func(a, b rotated) int { return a.n - b.n })

	for _, r := range rs {
		fi, err := os.Stat(r.name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // between two renames
			}
			return nil, false, err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if slices.ContainsFunc(files, func(f chainFile) bool { return os.SameFile(f.fi, fi) }) {
			return nil, false, nil
		}
		files = append(files, chainFile{r.name, fi})
	}
	slices.Reverse(files)
	return files, true, nil
}

// stableChain lists the log files twice; ok is true if both listings are
// whole and the same, so no rotation got in the way.
func stableChain(path string) (files []chainFile, ok bool, err error) {
	files, ok, err = listChain(path)
	if err != nil || !ok {
		return nil, false, err
	}
	again, ok, err := listChain(path)
	if err != nil || !ok {
		return nil, false, err
	}
	return files, sameChain(files, again), nil
}

func sameChain(a, b []chainFile) bool {
	return slices.EqualFunc(a, b, func(x, y chainFile) bool { return os.SameFile(x.fi, y.fi) })
}

// openChain opens every file of the log at path, oldest first, as one
// consistent snapshot: the files listed before and after opening them are
// the same, so no rotation happened in between. If rotations keep getting
// in the way, it settles for the last attempt.
func openChain(path string) ([]*segment, error) {
	var segs []*segment
	closeAll := func() {
		for _, s := range segs {
			s.close()
		}
		segs = nil
	}
	for attempt := 0; ; attempt++ {
		files, ok, err := listChain(path)
		if err != nil {
			return nil, err
		}
		for i := 0; ok && i < len(files); i++ {
			s, err := openSegment(files[i])
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errMoved) {
					closeAll()
					return nil, err
				}
				ok = false
				break
			}
			segs = append(segs, s)
		}
		if ok {
			var again []chainFile
			again, ok, err = listChain(path)
			if err != nil {
				closeAll()
				return nil, err
			}
			ok = ok && sameChain(files, again)
		}
		if ok || attempt == 20 {
			return segs, nil
		}
		closeAll()
	}
}
