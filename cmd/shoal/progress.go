package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/shoal-dev/shoal/internal/image/pull"
)

// progressView shows per-layer pull progress as the docker CLI does: on a
// terminal one line per layer, redrawn in place with a bar; otherwise a
// line when a layer is done.
type progressView struct {
	mu    sync.Mutex
	out   io.Writer
	tty   bool
	order []string
	lines map[string]string
	done  map[string]bool
}

func newProgressView(out io.Writer) *progressView {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progressView{out: out, tty: tty, lines: map[string]string{}, done: map[string]bool{}}
}

func (v *progressView) update(p pull.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	status := p.Status
	if status == pull.StatusDownloadComplete {
		status = "Pull complete"
	}
	if !v.tty {
		if (status == "Pull complete" || status == pull.StatusAlreadyExists) && !v.done[p.ID] {
			v.done[p.ID] = true
			fmt.Fprintf(v.out, "%s: %s\n", p.ID, status)
		}
		return
	}
	line := status
	if p.Status == pull.StatusDownloading && p.Total > 0 {
		line = fmt.Sprintf("%s %s %s/%s", status, bar(p.Current, p.Total), humanSize(p.Current), humanSize(p.Total))
	}
	if _, ok := v.lines[p.ID]; !ok {
		v.order = append(v.order, p.ID)
		v.lines[p.ID] = line
		fmt.Fprintf(v.out, "%s: %s\n", p.ID, line)
		return
	}
	v.lines[p.ID] = line
	// Move up to the layer's line, rewrite it, come back down.
	up := 0
	for i := len(v.order) - 1; i >= 0 && v.order[i] != p.ID; i-- {
		up++
	}
	up++
	fmt.Fprintf(v.out, "\x1b[%dA\r\x1b[2K%s: %s\x1b[%dB\r", up, p.ID, line, up)
}

func bar(cur, total int64) string {
	const width = 50
	n := int(cur * width / total)
	if n > width {
		n = width
	}
	s := strings.Repeat("=", n)
	if n < width {
		s += ">" + strings.Repeat(" ", width-n-1)
	}
	return "[" + s + "]"
}
