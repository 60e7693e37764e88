package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoal-dev/shoal/internal/image/pull"
)

func TestProgressView(t *testing.T) {
	var b bytes.Buffer
	v := newProgressView(&b) // not a terminal: completion lines only
	v.update(pull.Progress{ID: "aaa", Status: pull.StatusPullingFsLayer})
	v.update(pull.Progress{ID: "aaa", Status: pull.StatusDownloading, Current: 5, Total: 10})
	v.update(pull.Progress{ID: "bbb", Status: pull.StatusAlreadyExists})
	v.update(pull.Progress{ID: "aaa", Status: pull.StatusDownloadComplete})
	v.update(pull.Progress{ID: "aaa", Status: pull.StatusDownloadComplete})
	if got, want := b.String(), "bbb: Already exists\naaa: Pull complete\n"; got != want {
		t.Errorf("plain output %q, want %q", got, want)
	}

	b.Reset()
	v = newProgressView(&b)
	v.tty = true
	v.update(pull.Progress{ID: "aaa", Status: pull.StatusPullingFsLayer})
	v.update(pull.Progress{ID: "bbb", Status: pull.StatusPullingFsLayer})
	v.update(pull.Progress{ID: "aaa", Status: pull.StatusDownloading, Current: 5, Total: 10})
	out := b.String()
	// aaa's line is two lines up when bbb is the last one.
	if !strings.Contains(out, "\x1b[2A\r\x1b[2Kaaa: Downloading [=========================>") || !strings.HasSuffix(out, "\x1b[2B\r") {
		t.Errorf("terminal output %q", out)
	}
}
