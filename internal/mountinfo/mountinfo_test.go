package mountinfo

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	data := []byte(`22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid master:7 - cgroup cgroup rw,cpu,cpuacct
31 22 0:27 /a\040b /mnt/with\040space ro - tmpfs tmpfs rw,size=64k
`)
	got, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Root: "/", Point: "/", FSType: "ext4", Source: "/dev/vda", Options: []string{"rw", "relatime"}, Super: []string{"rw"}},
		{Root: "/", Point: "/sys/fs/cgroup/cpu,cpuacct", FSType: "cgroup", Source: "cgroup", Options: []string{"rw", "nosuid"}, Super: []string{"rw", "cpu", "cpuacct"}},
		{Root: "/a b", Point: "/mnt/with space", FSType: "tmpfs", Source: "tmpfs", Options: []string{"ro"}, Super: []string{"rw", "size=64k"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"1 2 3\n", "1 2 3 4 5 6 7 8\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/t\011x\134`: "/t\tx\\", `/end\04`: `/end\04`} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data) // must not panic
	})
}
