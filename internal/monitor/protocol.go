package monitor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/logfile"
	"github.com/shoal-dev/shoal/internal/runtime/driver"
)

// Request ops.
const (
	opCreate = "create"
	opExec   = "exec"
	opAttach = "attach"
	opResize = "resize"
	opDelete = "delete"
	opList   = "list"
	opEvents = "events"
	opPing   = "ping"
)

// Stream ids in frames. StreamExit carries an exec's exit code (JSON
// ExitStatus) after its output, and is never passed on to clients.
const (
	StreamStdin  byte = 0
	StreamStdout byte = 1
	StreamStderr byte = 2
	StreamExit   byte = 0xff
)

type request struct {
	Op     string         `json:"op"`
	ID     string         `json:"id,omitempty"`
	ExecID string         `json:"exec_id,omitempty"`
	Create *CreateRequest `json:"create,omitempty"`
	Exec   *ExecRequest   `json:"exec,omitempty"`
	Attach *AttachRequest `json:"attach,omitempty"`
	Width  uint16         `json:"width,omitempty"`
	Height uint16         `json:"height,omitempty"`
}

// CreateRequest asks for a container to be created (not started).
type CreateRequest struct {
	Bundle    string      `json:"bundle"`
	Runtime   driver.Spec `json:"runtime"`
	Terminal  bool        `json:"terminal,omitempty"`
	OpenStdin bool        `json:"open_stdin,omitempty"`
	// StdinOnce closes the container's stdin when the first attached
	// client that writes to it closes its end.
	StdinOnce  bool            `json:"stdin_once,omitempty"`
	LogPath    string          `json:"log_path"`
	LogOptions logfile.Options `json:"log_options"`
}

// ExecRequest asks for a process in a running container. Without
// Detach the request's connection carries its streams.
type ExecRequest struct {
	Runtime driver.Spec    `json:"runtime"`
	Process *specs.Process `json:"process"`
	Stdin   bool           `json:"stdin,omitempty"`
	Stdout  bool           `json:"stdout,omitempty"`
	Stderr  bool           `json:"stderr,omitempty"`
	Detach  bool           `json:"detach,omitempty"`
}

// AttachRequest says which of a container's streams a client wants.
type AttachRequest struct {
	Stdin  bool `json:"stdin,omitempty"`
	Stdout bool `json:"stdout,omitempty"`
	Stderr bool `json:"stderr,omitempty"`
}

type response struct {
	Error  string  `json:"error,omitempty"`
	Class  string  `json:"class,omitempty"`
	Pid    int     `json:"pid,omitempty"`
	States []State `json:"states,omitempty"`
}

// ExitStatus is how a process ended.
type ExitStatus struct {
	Code     int       `json:"exit_code"`
	ExitedAt time.Time `json:"exited_at"`
}

// State is what the monitor knows of a container.
type State struct {
	ID  string `json:"id"`
	Pid int    `json:"pid"`
	// Exit is set once the container's init has exited and its output
	// has been drained into the log.
	Exit *ExitStatus `json:"exit,omitempty"`
}

// Event reports the end of a container (ExecID "") or of an exec.
type Event struct {
	ID     string     `json:"id"`
	ExecID string     `json:"exec_id,omitempty"`
	Pid    int        `json:"pid"`
	Exit   ExitStatus `json:"exit"`
}

// Errors keep their errdefs class across the socket.
var classes = map[string]error{
	"not_found":      errdefs.ErrNotFound,
	"already_exists": errdefs.ErrAlreadyExists,
	"conflict":       errdefs.ErrConflict,
	"invalid":        errdefs.ErrInvalidArgument,
	"precondition":   errdefs.ErrFailedPrecondition,
	"unavailable":    errdefs.ErrUnavailable,
}

func errorResponse(err error) response {
	r := response{Error: err.Error()}
	for name, class := range classes {
		if errors.Is(err, class) {
			r.Class = name
			break
		}
	}
	return r
}

func (r response) err() error {
	if r.Error == "" {
		return nil
	}
	if class, ok := classes[r.Class]; ok {
		return &remoteError{msg: r.Error, class: class}
	}
	return errors.New(r.Error)
}

// remoteError is an error the monitor reported, with its class.
type remoteError struct {
	msg   string
	class error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.class }

// maxFrame bounds one frame's payload.
const maxFrame = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, stream byte, p []byte) error {
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := w.Write(append(hdr[:], p...)); err != nil {
		return err
	}
	return nil
}

// ReadFrame reads one frame into buf (grown as needed).
func ReadFrame(r io.Reader, buf []byte) (stream byte, p []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("monitor frame of %d bytes: too large", n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, err
	}
	return hdr[0], buf, nil
}

func encodeExit(st ExitStatus) []byte {
	b, _ := json.Marshal(st)
	return b
}

// DecodeExit reads a StreamExit frame's payload.
func DecodeExit(p []byte) (ExitStatus, error) {
	var st ExitStatus
	err := json.Unmarshal(p, &st)
	return st, err
}
