package runtime

import (
	"bytes"
	"testing"
)

func TestFilterPs(t *testing.T) {
	ps := []byte("UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sleep\nroot 43 1 other\n")
	var out bytes.Buffer
	if err := FilterPs(&out, ps, []int{42}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "UID PID PPID CMD\nroot 42 1 sleep\n"; got != want {
		t.Errorf("FilterPs = %q, want %q", got, want)
	}
	if err := FilterPs(&out, []byte("A B\n"), nil); err == nil {
		t.Errorf("FilterPs without a PID column succeeded")
	}
}

func TestDefaultSpecValid(t *testing.T) {
	if err := ValidateSpec(DefaultSpec()); err != nil {
		t.Fatalf("DefaultSpec is invalid: %v", err)
	}
	f := Features()
	if f.OCIVersionMax == "" || len(f.Linux.Namespaces) < 7 {
		t.Errorf("Features = %+v", f)
	}
}
