package content

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// The crash test re-executes the test binary as a writer process. The
// protocol between the two:
//
//	parent                                  child (crashChildEnv=<root>)
//	  start child ──────────────────────────▶ NewStore(root), Writer(crashRef)
//	                                          writes crashBlob in 64 KiB
//	                                          chunks, 1 ms apart, stopping one
//	                                          chunk short; never commits
//	  poll Status(crashRef) until the offset
//	  passes half the blob, check no blob is
//	  visible, then SIGKILL ────────────────▶ (dies mid-write)
//	  NewStore(root), Status, Writer(crashRef)
//	  resumes at the offset, writes the rest,
//	  commits, reads back and verifies
const (
	crashChildEnv = "SHOAL_CONTENT_CRASH_CHILD"
	crashRef      = "crash-test"
	crashSize     = 8 << 20
	crashSeed     = 42
	crashChunk    = 64 << 10
)

func TestMain(m *testing.M) {
	if root := os.Getenv(crashChildEnv); root != "" {
		if err := crashChild(root); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashChild(root string) error {
	ctx := context.Background()
	s, err := NewStore(root)
	if err != nil {
		return err
	}
	data, desc := randomBlob(crashSeed, crashSize)
	w, err := s.Writer(ctx, WithRef(crashRef), WithDescriptor(desc))
	if err != nil {
		return err
	}
	fmt.Println("writing")
	for off := 0; off < len(data)-crashChunk; off += crashChunk {
		if _, err := w.Write(data[off : off+crashChunk]); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(time.Hour) // hold the ingest until killed
	return errors.New("not killed")
}

func TestCrashResume(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "content")
	t.Cleanup(func() { checkStore(t, root) })
	s, err := NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	data, desc := randomBlob(crashSeed, crashSize)

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "writing" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v; stderr: %s", line, err, stderr.String())
	}

	// While the child writes: the ingest is visible to Status, locked
	// against Writer, and no blob is visible.
	var st Status
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err = s.Status(ctx, crashRef)
		if err == nil && st.Offset > crashSize/2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not get halfway: %+v, %v; stderr: %s", st, err, stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := s.Writer(ctx, WithRef(crashRef)); !errdefs.IsUnavailable(err) {
		t.Errorf("Writer while the child writes = %v, want unavailable", err)
	}
	if _, err := s.Info(ctx, desc.Digest); !errdefs.IsNotFound(err) {
		t.Errorf("Info while the child writes = %v, want not found", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // "signal: killed"
	if cmd.ProcessState.Success() {
		t.Fatalf("child exited cleanly; stderr: %s", stderr.String())
	}

	// After the crash: a fresh store sees the ingest, no blob.
	s2, err := NewStore(root)
	if err != nil {
		t.Fatal(err)
	}
	st, err = s2.Status(ctx, crashRef)
	if err != nil {
		t.Fatal(err)
	}
	if st.Offset <= crashSize/2 || st.Offset >= crashSize || st.Total != crashSize || st.Expected != desc.Digest {
		t.Fatalf("Status after the crash = %+v, want offset in (%d, %d), total %d, expected %s",
			st, crashSize/2, crashSize, crashSize, desc.Digest)
	}
	t.Logf("child killed with %d of %d bytes written", st.Offset, crashSize)
	assertNoBlobs(t, s2)

	// Resume: the kernel dropped the child's flock with the child.
	w, err := s2.Writer(ctx, WithRef(crashRef), WithDescriptor(desc))
	if err != nil {
		t.Fatalf("Writer after the crash = %v", err)
	}
	ws, err := w.Status()
	if err != nil || ws.Offset != st.Offset {
		t.Fatalf("Writer.Status = %+v, %v, want offset %d", ws, err, st.Offset)
	}
	if _, err := w.Write(data[ws.Offset:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil {
		t.Fatal(err)
	}
	ra, err := s2.ReaderAt(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	got := make([]byte, ra.Size())
	if _, err := ra.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("resumed blob differs from the original")
	}
	if _, err := s2.Status(ctx, crashRef); !errdefs.IsNotFound(err) {
		t.Errorf("Status after Commit = %v, want not found", err)
	}
}
