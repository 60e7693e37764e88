package runtimecli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFlagSetParse(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		interspersed bool
		pos          []string
		force        bool
		env          []string
	}{
		{[]string{"--force", "a", "b"}, true, []string{"a", "b"}, true, nil},
		{[]string{"a", "-f", "b"}, true, []string{"a", "b"}, true, nil},
		{[]string{"a", "--", "-f", "b"}, true, []string{"a", "-f", "b"}, false, nil},
		{[]string{"-e", "A=1", "--env=B=2", "id", "sh", "-f"}, false, []string{"id", "sh", "-f"}, false, []string{"A=1", "B=2"}},
		{[]string{"--", "--force"}, false, []string{"--force"}, false, nil},
	} {
		var force bool
		var env []string
		fl := newFlagSet("t", &bytes.Buffer{})
		fl.BoolVarP(&force, "force", "f", false, "")
		fl.StringArrayVarP(&env, "env", "e", "")
		pos, err := fl.parse(tc.args, tc.interspersed)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !slices.Equal(pos, tc.pos) || force != tc.force || !slices.Equal(env, tc.env) {
			t.Errorf("%q: positional %q force %v env %q; want %q %v %q", tc.args, pos, force, env, tc.pos, tc.force, tc.env)
		}
		if got := fl.Changed("force"); got != tc.force {
			t.Errorf("%q: Changed(force) = %v", tc.args, got)
		}
	}
}

func TestIntSlice(t *testing.T) {
	var gids []int
	fl := newFlagSet("t", &bytes.Buffer{})
	fl.IntSliceVarP(&gids, "additional-gids", "g", "")
	if _, err := fl.parse([]string{"-g", "1,2", "--additional-gids", "3"}, true); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gids, []int{1, 2, 3}) {
		t.Fatalf("gids %v", gids)
	}
	if _, err := fl.parse([]string{"-g", "x"}, true); err == nil {
		t.Fatal("a non-integer gid was accepted")
	}
}

func TestRunErrors(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--root", root, "start"}, "start: accepts 1 arg(s), received 0"},
		{[]string{"--root", root, "kill", "a", "b", "c"}, "kill: accepts between 1 and 2 arg(s), received 3"},
		{[]string{"--root", root, "nosuch"}, `unknown command "nosuch"`},
		{[]string{"--root", root, "--log-format", "xml", "list"}, `--log-format "xml": must be text or json`},
		{[]string{"--root", root, "--systemd-cgroup", "list"}, "--systemd-cgroup"},
		{[]string{"--root", root, "state", "missing"}, "does not exist"},
	} {
		var out, errw bytes.Buffer
		err := run(context.Background(), tc.args, &out, &errw)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	var out, errw bytes.Buffer
	if err := run(context.Background(), []string{"--root", root, "list", "--bogus"}, &out, &errw); err != errUsage || !strings.Contains(errw.String(), "flag provided but not defined: -bogus") {
		t.Errorf("unknown flag: %v, stderr %q", err, errw.String())
	}
}

func TestSpecAndList(t *testing.T) {
	dir := t.TempDir()
	var out, errw bytes.Buffer
	if err := run(context.Background(), []string{"spec", "-b", dir}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"spec", "--bundle", dir}, &out, &errw); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second spec: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"--root", filepath.Join(dir, "state"), "ls", "--format", "json"}, &out, &errw); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "[]" {
		t.Fatalf("list json of no containers: %q", out.String())
	}
}
