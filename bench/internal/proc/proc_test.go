package proc

import (
	"os"
	"slices"
	"testing"
)

func TestParseStat(t *testing.T) {
	p, err := parseStat(42, []byte("42 (a (weird) name) S 7 42 42 0 -1 4194560 100"))
	if err != nil {
		t.Fatalf("parseStat: %v", err)
	}
	if p.PID != 42 || p.PPID != 7 || p.State != 'S' || p.Comm != "a (weird) name" {
		t.Errorf("parseStat = %+v, want pid 42, ppid 7, state S, comm %q", p, "a (weird) name")
	}
	for _, bad := range []string{"42 no parens S 7", "42 (x)", "42 )x( S 1"} {
		if _, err := parseStat(42, []byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

func TestReadSelf(t *testing.T) {
	p, err := Read(os.Getpid())
	if err != nil {
		t.Fatalf("Read(self): %v", err)
	}
	if p.PPID != os.Getppid() || len(p.Argv) == 0 || p.Argv[0] != os.Args[0] {
		t.Errorf("Read(self) = %+v, want ppid %d, argv[0] %q", p, os.Getppid(), os.Args[0])
	}
}

func TestNamesPath(t *testing.T) {
	p := Process{Argv: []string{"containerd", "-address", "/tmp/x/exec/containerd.sock", "--root=/tmp/y", "unix:///tmp/z/s.sock"}}
	for path, want := range map[string]bool{
		"/tmp/x": true, "/tmp/x/exec": true, "/tmp/y": true, "/tmp/z": true,
		"/tmp": true, "/tmp/xx": false, "/tmp/x/exec/containerd.sock": true, "/tmp/x/exec/containerd": false, "/other": false,
	} {
		if got := p.NamesPath(path); got != want {
			t.Errorf("NamesPath(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestDescendants(t *testing.T) {
	all := []Process{{PID: 1}, {PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 11}, {PID: 20, PPID: 1}, {PID: 13, PPID: 10}}
	got := Descendants(10, all)
	slices.Sort(got)
	if want := []int{11, 12, 13}; !slices.Equal(got, want) {
		t.Errorf("Descendants(10) = %v, want %v", got, want)
	}
	if got := Descendants(12, all); len(got) != 0 {
		t.Errorf("Descendants(leaf) = %v, want none", got)
	}
}

func TestParseSmapsRollup(t *testing.T) {
	pss, rss := parseSmapsRollup("55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:  31092 kB\nPss:  19600 kB\nPss_Anon: 100 kB\n")
	if pss != 19600 || rss != 31092 {
		t.Errorf("parseSmapsRollup = %d, %d, want 19600, 31092", pss, rss)
	}
}
