package logfile

import (
	"bytes"
	"sync"
	"time"
)

// PartialSize is how many bytes of a line without a newline a LineSplitter
// holds before writing them as a partial record: Docker's log copier
// buffer. A line of PartialSize-1 bytes and its newline make one record.
const PartialSize = 16 * 1024

// LineSplitter turns the raw output of one stream into records: complete
// lines (with their "\n") are written as they arrive; a partial line is
// held until its newline, or written as a partial record (no "\n") when it
// reaches PartialSize bytes or on Flush. As in Docker, every piece of a
// line split this way carries the time of its first piece. It is safe for
// concurrent use, though one stream has one writer.
type LineSplitter struct {
	mu        sync.Mutex
	w         *Writer
	stream    string
	now       func() time.Time
	held      []byte    // start of a line without its newline, < PartialSize bytes
	partial   bool      // the current line was partly written already
	partialTS time.Time // time of the first piece of the current line
}

// NewLineSplitter returns a LineSplitter writing records of stream to w,
// timed by now (time.Now if nil).
func NewLineSplitter(w *Writer, stream string, now func() time.Time) *LineSplitter {
	if now == nil {
		now = time.Now
	}
	return &LineSplitter{w: w, stream: stream, now: now}
}

// Write splits p into records. It always consumes all of p, so that the
// container never blocks on its output; an error reports records that
// could not be written (the first such error, the rest are dropped).
func (s *LineSplitter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for len(p) > 0 {
		h := len(s.held)
		i := bytes.IndexByte(p, '\n')
		switch {
		case i >= 0 && h+i+1 <= PartialSize:
			// The newline fits in the buffer: a complete line.
			line := p[:i+1]
			if h > 0 {
				s.held = append(s.held, line...)
				line = s.held
			}
			keep(s.emit(line, true))
			p = p[i+1:]
		case h+len(p) >= PartialSize:
			// The buffer fills up without a newline: a partial record.
			k := PartialSize - h
			line := p[:k]
			if h > 0 {
				s.held = append(s.held, line...)
				line = s.held
			}
			keep(s.emit(line, false))
			p = p[k:]
		default:
			if s.held == nil {
				s.held = make([]byte, 0, min(PartialSize, max(len(p), 256)))
			}
			s.held = append(s.held, p...)
			p = nil
		}
	}
	return n, firstErr
}

// Flush writes a held partial line as a partial record.
func (s *LineSplitter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.held) == 0 {
		return nil
	}
	err := s.emit(s.held, false)
	s.partial = false
	return err
}

// emit writes line as a record and empties the held buffer, releasing it
// if it grew large.
func (s *LineSplitter) emit(line []byte, complete bool) error {
	if !s.partial {
		s.partialTS = s.now()
	}
	err := s.w.Write(s.stream, line, s.partialTS)
	s.partial = !complete
	if cap(s.held) > 4<<10 {
		s.held = nil
	} else {
		s.held = s.held[:0]
	}
	return err
}
