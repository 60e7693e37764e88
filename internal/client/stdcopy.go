package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Stream numbers of the multiplexed stream's frames.
const (
	Stdin     = 0
	Stdout    = 1
	Stderr    = 2
	Systemerr = 3
)

const frameHeader = 8

// maxFrame bounds one frame's payload: a corrupt header must not make the
// reader allocate gigabytes.
const maxFrame = 64 << 20

// Demux copies a multiplexed stream to stdout and stderr (either may be
// nil to drop its frames) until src ends. It returns the bytes written;
// a systemerr frame ends the copy with its text as the error.
func Demux(stdout, stderr io.Writer, src io.Reader) (int64, error) {
	var hdr [frameHeader]byte
	buf := make([]byte, 32*1024)
	var written int64
	for {
		if _, err := io.ReadFull(src, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return written, nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return written, fmt.Errorf("demultiplex stream: truncated frame header")
			}
			return written, err
		}
		size := binary.BigEndian.Uint32(hdr[4:])
		if size > maxFrame {
			return written, fmt.Errorf("demultiplex stream: frame of %d bytes is too large", size)
		}
		if int(size) > cap(buf) {
			buf = make([]byte, size)
		}
		p := buf[:size]
		if _, err := io.ReadFull(src, p); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return written, fmt.Errorf("demultiplex stream: truncated frame")
			}
			return written, err
		}
		var w io.Writer
		switch hdr[0] {
		case Stdin, Stdout:
			w = stdout
		case Stderr:
			w = stderr
		case Systemerr:
			return written, fmt.Errorf("error from daemon in stream: %s", p)
		default:
			return written, fmt.Errorf("demultiplex stream: unknown stream %d", hdr[0])
		}
		if w == nil {
			continue
		}
		n, err := w.Write(p)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
}

// WriteFrame writes p as one frame of stream: the daemon's side of Demux,
// for tests and proxies.
func WriteFrame(w io.Writer, stream byte, p []byte) error {
	var hdr [frameHeader]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}
