package runtime

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Records of the nsenter phase (see internal/runtime/nsenter/nsenter.c).
const (
	nsCloneFlags = 1
	nsPath       = 2
	nsEnd        = 3
	nsMapRequest = 4
	nsMapAck     = 5
	nsChildPid   = 6
	nsError      = 7
)

func writeRecord(w io.Writer, typ uint32, data []byte) error {
	var hdr [8]byte
	binary.NativeEndian.PutUint32(hdr[0:], typ)
	binary.NativeEndian.PutUint32(hdr[4:], uint32(len(data)))
	if _, err := w.Write(append(hdr[:], data...)); err != nil {
		return err
	}
	return nil
}

func readRecord(r io.Reader) (uint32, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.NativeEndian.Uint32(hdr[4:])
	if n > 1<<16 {
		return 0, nil, errors.New("sync record too long")
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return 0, nil, err
	}
	return binary.NativeEndian.Uint32(hdr[0:]), data, nil
}

// initConfig is what the parent sends the Go half of init, as JSON, once
// the namespaces exist.
type initConfig struct {
	// Exec is true for `exec` into a running container, false for the
	// container's first process.
	Exec    bool           `json:"exec"`
	Spec    *specs.Spec    `json:"spec"`
	Process *specs.Process `json:"process"`
	Rootfs  string         `json:"rootfs"`
	Bundle  string         `json:"bundle"`
	State   specs.State    `json:"state"`
	UserNS  bool           `json:"userns"`
	NewMnt  bool           `json:"new_mnt"`
	// NewCgroupNS asks init to unshare its cgroup namespace itself, once
	// it is in its cgroup.
	NewCgroupNS bool `json:"new_cgroupns"`
	// Fd numbers in init: the exec fifo (create only), the console socket
	// (terminal only); PreserveFDs extra descriptors from 3 are kept.
	FifoFD      int `json:"fifo_fd"`
	ConsoleFD   int `json:"console_fd"`
	PreserveFDs int `json:"preserve_fds"`
}

// syncMsg is one message between parent and init after initConfig.
type syncMsg struct {
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
}

const (
	msgHooks = "hooks" // init → parent: run prestart/createRuntime hooks now
	msgAck   = "ack"   // parent → init: done, go on
	msgReady = "ready" // init → parent: set up, about to wait on the fifo / exec
	msgError = "error" // init → parent: setup failed
)

type syncConn struct {
	enc *json.Encoder
	dec *json.Decoder
}

func newSyncConn(rw io.ReadWriter) *syncConn {
	return &syncConn{enc: json.NewEncoder(rw), dec: json.NewDecoder(rw)}
}

func (s *syncConn) send(m syncMsg) error { return s.enc.Encode(m) }

func (s *syncConn) expect(typ string) error {
	var m syncMsg
	if err := s.dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("container init exited without a word")
		}
		return fmt.Errorf("read from container init: %w", err)
	}
	if m.Type == msgError {
		return errors.New(m.Error)
	}
	if m.Type != typ {
		return fmt.Errorf("container init sent %q, want %q", m.Type, typ)
	}
	return nil
}
