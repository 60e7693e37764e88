package monitor

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	for _, f := range []struct {
		stream byte
		p      string
	}{{StreamStdout, "out"}, {StreamStderr, ""}, {StreamExit, `{"exit_code":3}`}} {
		if err := WriteFrame(&b, f.stream, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for {
		s, p, err := ReadFrame(&b, nil)
		if err != nil {
			break
		}
		got = append(got, fmt.Sprintf("%d:%s", s, p))
	}
	if want := `1:out 2: 255:{"exit_code":3}`; fmt.Sprint(got) != "["+want+"]" {
		t.Errorf("frames = %v, want %s", got, want)
	}
	st, err := DecodeExit([]byte(`{"exit_code":3}`))
	if err != nil || st.Code != 3 {
		t.Errorf("DecodeExit = %+v, %v", st, err)
	}
	big := append([]byte{1, 0, 0, 0}, 0xff, 0xff, 0xff, 0xff)
	if _, _, err := ReadFrame(bytes.NewReader(big), nil); err == nil {
		t.Error("a 4 GiB frame was accepted")
	}
}

func TestErrorClassesCrossTheSocket(t *testing.T) {
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrConflict, errdefs.ErrInvalidArgument, errdefs.ErrAlreadyExists} {
		resp := errorResponse(fmt.Errorf("container x: %w", class))
		err := resp.err()
		if !errors.Is(err, class) || err.Error() != "container x: "+class.Error() {
			t.Errorf("class %v came back as %v", class, err)
		}
	}
	if err := errorResponse(errors.New("plain")).err(); err.Error() != "plain" {
		t.Errorf("plain error = %v", err)
	}
	if err := (response{}).err(); err != nil {
		t.Errorf("empty response error = %v", err)
	}
}

func TestExitOf(t *testing.T) {
	// 0x0300: exited with 3; 0x0009: killed by signal 9.
	if st := exitOf(0x0300); st.Code != 3 || time.Since(st.ExitedAt) > time.Minute {
		t.Errorf("exitOf(exit 3) = %+v", st)
	}
	if st := exitOf(0x0009); st.Code != 137 {
		t.Errorf("exitOf(SIGKILL) = %+v", st)
	}
}
