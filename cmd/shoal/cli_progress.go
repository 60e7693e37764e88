package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/shoal-dev/shoal/internal/image/pull"
)

// streamError is an error message in a progress stream: printed as it
// is, without "Error response from daemon".
type streamError struct{ msg string }

func (e *streamError) Error() string { return e.msg }

// displayStream renders a daemon's progress stream (pull, push, load,
// import) to w: on a terminal with per-layer bars redrawn in place (the
// progressView of `shoal pull`), otherwise as the docker CLI's plain
// lines (progress updates left out). aux, if not nil, receives the aux
// messages. It returns the stream's error message, if it ends with one.
func displayStream(r io.Reader, w io.Writer, aux func(json.RawMessage)) error {
	_, tty := terminalFd(w)
	return displayMessages(r, w, tty, aux)
}

func displayMessages(r io.Reader, w io.Writer, tty bool, aux func(json.RawMessage)) error {
	dec := json.NewDecoder(r)
	var view *progressView
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress stream: %w", err)
		}
		if m.Error != nil {
			return &streamError{msg: m.Error.Message}
		}
		if m.Aux != nil {
			if aux != nil {
				aux(*m.Aux)
			}
			continue
		}
		if !tty {
			if m.Progress != nil && (m.Progress.Current > 0 || m.Progress.Total > 0) {
				continue
			}
			if m.ID != "" {
				fmt.Fprintf(w, "%s: ", m.ID)
			}
			if m.Stream != "" {
				fmt.Fprint(w, m.Stream)
			} else {
				fmt.Fprintln(w, m.Status)
			}
			continue
		}
		if m.ID != "" && m.Stream == "" {
			if view == nil {
				view = newProgressView(w)
				view.tty = true
			}
			p := pull.Progress{ID: m.ID, Status: m.Status}
			if m.Progress != nil {
				p.Current, p.Total = m.Progress.Current, m.Progress.Total
			}
			view.update(p)
			continue
		}
		// A line that is not a layer's: later layer lines start a new
		// block below it.
		view = nil
		if m.ID != "" {
			fmt.Fprintf(w, "%s: ", m.ID)
		}
		if m.Stream != "" {
			fmt.Fprint(w, m.Stream)
		} else {
			fmt.Fprintln(w, m.Status)
		}
	}
}
