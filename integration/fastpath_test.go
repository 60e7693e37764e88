//go:build integration

package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFastPathSkipsHeavyInit checks internal/fastpath: a container's init
// and `shoal runtime` take over the process before the packages they do
// not need initialise. GODEBUG=inittrace=1 makes the Go runtime print one
// line per package initialised; compose-go's JSON-schema compiler (~10 ms
// here) and the compose loader must not be among them. The same check on
// `shoal --version` sees them, so the test can tell.
func TestFastPathSkipsHeavyInit(t *testing.T) {
	heavy := []string{"github.com/santhosh-tekuri/jsonschema/v6 ", "github.com/compose-spec/compose-go/v2/loader ", "github.com/shoal-dev/shoal/internal/engine "}
	trace := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(shoalBin, args...)
		cmd.Env = append(append(os.Environ(), "GODEBUG=inittrace=1"), env...)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "init runtime @") {
			t.Fatalf("%v: no init trace in the output:\n%s", args, out)
		}
		return string(out)
	}
	full := trace(nil, "--version")
	for _, h := range heavy {
		if !strings.Contains(full, "init "+h) {
			t.Fatalf("shoal --version does not initialise %s: the check below would prove nothing", h)
		}
	}
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"runtime", nil, []string{"runtime", "--root", root, "list"}},
		{"container init", []string{"_SHOAL_INIT=not-a-descriptor"}, []string{"init"}},
	} {
		out := trace(tc.env, tc.args...)
		for _, h := range heavy {
			if strings.Contains(out, "init "+h) {
				t.Errorf("%s: %s was initialised", tc.name, strings.TrimSpace(h))
			}
		}
	}
}
