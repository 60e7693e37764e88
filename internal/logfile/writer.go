package logfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// FileMode is the permission of the log files a Writer creates (before
// the umask), as Docker's.
const FileMode fs.FileMode = 0o640

// MaxRecordSize is the longest record, newline excluded, that Write
// accepts and Read reads. A 16 KiB line, the longest a LineSplitter
// writes, encodes to at most about 96 KiB.
const MaxRecordSize = 1 << 20

// Writer appends records to a log file and rotates it. It is safe for
// concurrent use.
type Writer struct {
	mu     sync.Mutex
	path   string
	opts   Options
	f      *os.File // nil once closed
	size   int64    // bytes in f
	broken bool     // f does not end with '\n' (a torn write)
}

// bufPool holds encoding buffers shared by all Writers, so that an idle
// container costs no buffer.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Open opens the log file at path for appending, creating it (mode
// FileMode) if needed: a restarted container keeps its log. Its parent
// directory must exist.
func Open(path string, o Options) (*Writer, error) {
	if o.MaxSize < 0 || o.MaxFiles < 0 {
		return nil, fmt.Errorf("open log %s: max size %d, max files %d: %w", path, o.MaxSize, o.MaxFiles, errdefs.ErrInvalidArgument)
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = 1
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_CLOEXEC, FileMode)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	w := &Writer{path: path, opts: o, f: f}
	if err := w.initSize(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return w, nil
}

// initSize reads the size of an existing file and whether it ends with a
// newline.
func (w *Writer) initSize() error {
	fi, err := w.f.Stat()
	if err != nil {
		return err
	}
	w.size = fi.Size()
	if w.size == 0 {
		return nil
	}
	r, err := os.Open(w.path)
	if err != nil {
		return err
	}
	defer r.Close()
	var last [1]byte
	if _, err := r.ReadAt(last[:], w.size-1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	w.broken = last[0] != '\n'
	return nil
}

// Write appends one record: line (its "\n" included, if any) from stream
// ("stdout" or "stderr") at time t. If the record would take the current
// file past MaxSize, the file is rotated first; if rotation fails, the
// record is still appended to the current file and the rotation error is
// returned (rotation is tried again on the next Write). A record longer
// than MaxRecordSize or a time outside years 0-9999 is an
// ErrInvalidArgument.
func (w *Writer) Write(stream string, line []byte, t time.Time) error {
	bp := bufPool.Get().(*[]byte)
	rec, err := appendRecord((*bp)[:0], stream, line, t)
	defer func() {
		if cap(rec) <= 64<<10 {
			*bp = rec[:0]
			bufPool.Put(bp)
		}
	}()
	if err != nil {
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	if len(rec)-1 > MaxRecordSize {
		return fmt.Errorf("write log %s: record of %d bytes is longer than %d: %w", w.path, len(rec)-1, MaxRecordSize, errdefs.ErrInvalidArgument)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("write log %s: %w", w.path, fs.ErrClosed)
	}
	var rotErr error
	if w.opts.MaxSize > 0 && w.size > 0 && w.size+int64(len(rec)) > w.opts.MaxSize {
		if err := w.rotate(); err != nil {
			rotErr = fmt.Errorf("rotate log %s: %w", w.path, err)
		}
	}
	if w.broken {
		// End the torn record so that this one is readable.
		n, err := w.f.Write([]byte{'\n'})
		w.size += int64(n)
		if err != nil {
			return errors.Join(rotErr, fmt.Errorf("write log %s: %w", w.path, err))
		}
		w.broken = false
	}
	n, err := w.f.Write(rec)
	w.size += int64(n)
	if err != nil {
		w.broken = n > 0
		return errors.Join(rotErr, fmt.Errorf("write log %s: %w", w.path, err))
	}
	return rotErr
}

func (w *Writer) rotate() error {
	if w.opts.MaxFiles <= 1 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	} else {
		name := func(i int) string { return w.path + "." + strconv.Itoa(i) }
		if err := os.Remove(name(w.opts.MaxFiles - 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for i := w.opts.MaxFiles - 1; i > 1; i-- {
			if err := os.Rename(name(i-1), name(i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := os.Rename(w.path, name(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	// Until this succeeds, records go on into the renamed (or removed)
	// file, where a following reader still finds them.
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC|syscall.O_CLOEXEC, FileMode)
	if err != nil {
		return err
	}
	old := w.f
	w.f, w.size, w.broken = f, 0, false
	if err := old.Close(); err != nil {
		return fmt.Errorf("close rotated file: %w", err)
	}
	return nil
}

// Close closes the file. Writes after Close fail; Close is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("close log %s: %w", w.path, err)
	}
	return nil
}

// appendRecord appends the JSON line of one record to b, as Docker's
// jsonlog.JSONLogs.MarshalJSONBuf does.
func appendRecord(b []byte, stream string, line []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, fmt.Errorf("time %v: year outside of range [0,9999]: %w", t, errdefs.ErrInvalidArgument)
	}
	b = append(b, '{')
	sep := false
	if len(line) > 0 {
		b = append(b, `"log":`...)
		b = appendString(b, line)
		sep = true
	}
	if stream != "" {
		if sep {
			b = append(b, ',')
		}
		b = append(b, `"stream":`...)
		b = appendString(b, []byte(stream))
		sep = true
	}
	if sep {
		b = append(b, ',')
	}
	b = append(b, `"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"', '}', '\n')
	return b, nil
}

// appendString appends s as a JSON string, escaped byte for byte as
// Docker's ffjsonWriteJSONBytesAsString does.
func appendString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
