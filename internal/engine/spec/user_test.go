package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/testutil"
)

func TestResolveUser(t *testing.T) {
	root := writeRootfs(t, map[string]string{
		"etc/passwd": testPasswd + "\n  \nweird:x:notanumber:7::/w:/bin/sh\n",
		"etc/group":  testGroup,
	})
	tests := []struct {
		user     string
		groupAdd []string
		want     specs.User
		home     string
	}{
		{"", nil, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0, 10}}, "/root"},
		{"root", nil, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0, 10}}, "/root"},
		{"0", nil, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0, 10}}, "/root"},
		{"alice", nil, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 10, 29}}, "/home/alice"},
		{"1000", nil, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 10, 29}}, "/home/alice"},
		{"alice:audio", nil, specs.User{UID: 1000, GID: 29, AdditionalGids: []uint32{29}}, "/home/alice"},
		{"alice:100", nil, specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{100}}, "/home/alice"},
		{"1000:7777", nil, specs.User{UID: 1000, GID: 7777, AdditionalGids: []uint32{7777}}, "/home/alice"},
		{"5000", nil, specs.User{UID: 5000, GID: 0, AdditionalGids: []uint32{0}}, "/"},
		{"5000:users", nil, specs.User{UID: 5000, GID: 100, AdditionalGids: []uint32{100}}, "/"},
		{"bob", []string{"wheel", "29", "12345"}, specs.User{UID: 1001, GID: 100, AdditionalGids: []uint32{100, 29, 10, 12345}}, "/home/bob"},
		{"weird", nil, specs.User{UID: 0, GID: 7, AdditionalGids: []uint32{7}}, "/w"},
		{"alice:audio:ignored", nil, specs.User{UID: 1000, GID: 29, AdditionalGids: []uint32{29}}, "/home/alice"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			got, home, err := resolveUser(root, tt.user, tt.groupAdd)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) || home != tt.home {
				t.Errorf("resolveUser(%q, %q) = %+v %q, want %+v %q", tt.user, tt.groupAdd, got, home, tt.want, tt.home)
			}
			if pub, err := ResolveUser(root, tt.user, tt.groupAdd); err != nil || !reflect.DeepEqual(pub, got) {
				t.Errorf("ResolveUser = %+v, %v", pub, err)
			}
		})
	}
	for _, tt := range []struct{ user, want string }{
		{"nobody", "unable to find user nobody: no matching entries in passwd file"},
		{"alice:nogroup", "unable to find group nogroup: no matching entries in group file"},
		{"-1", "uids and gids must be in range 0-2147483647"},
		{"alice:2147483648", "uids and gids must be in range 0-2147483647"},
	} {
		_, err := ResolveUser(root, tt.user, nil)
		if err == nil || err.Error() != tt.want+": invalid argument" || !errdefs.IsInvalidArgument(err) {
			t.Errorf("ResolveUser(%q) = %v, want %q", tt.user, err, tt.want)
		}
	}
}

func TestResolveUserWithoutFiles(t *testing.T) {
	root := t.TempDir()
	u, home, err := resolveUser(root, "", nil)
	if err != nil || u.UID != 0 || u.GID != 0 || !reflect.DeepEqual(u.AdditionalGids, []uint32{0}) || home != "/" {
		t.Errorf("resolveUser(no files, \"\") = %+v %q %v", u, home, err)
	}
	u, _, err = resolveUser(root, "33:44", []string{"55"})
	if err != nil || u.UID != 33 || u.GID != 44 || !reflect.DeepEqual(u.AdditionalGids, []uint32{44, 55}) {
		t.Errorf("resolveUser(no files, 33:44) = %+v %v", u, err)
	}
	if _, _, err := resolveUser(root, "www-data", nil); err == nil || !strings.HasPrefix(err.Error(), "unable to find user www-data: no matching entries in passwd file") {
		t.Errorf("resolveUser(no files, www-data) = %v", err)
	}
	if _, _, err := resolveUser(root, "", []string{"docker"}); err == nil || !strings.HasPrefix(err.Error(), "unable to find group docker") {
		t.Errorf("resolveUser(no files, group-add docker) = %v", err)
	}
}

// sentinelPasswd is what a hostile image points /etc/passwd at: if it were
// read, "evil" would resolve and root would get gid 4242.
const sentinelPasswd = "root:x:0:4242:sentinel:/sentinel:/bin/sh\nevil:x:4242:4242::/evil:/bin/sh\n"

// TestResolveUserHostileRootfs checks that /etc/passwd and /etc/group are
// resolved inside the rootfs: symlinks that point out of it (absolutely,
// relatively, through a symlinked /etc) reach nothing of the host.
func TestResolveUserHostileRootfs(t *testing.T) {
	outside := t.TempDir()
	sentinel := filepath.Join(outside, "passwd")
	if err := os.WriteFile(sentinel, []byte(sentinelPasswd), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "group"), []byte("root:x:0:\nevil:x:4242:root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
	}{
		{"absolute symlink", func(t *testing.T, root string) {
			symlink(t, sentinel, filepath.Join(root, "etc/passwd"))
			symlink(t, filepath.Join(outside, "group"), filepath.Join(root, "etc/group"))
		}},
		{"relative symlink", func(t *testing.T, root string) {
			rel := strings.Repeat("../", 20) + strings.TrimPrefix(sentinel, "/")
			symlink(t, rel, filepath.Join(root, "etc/passwd"))
		}},
		{"symlinked etc", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "etc")); err != nil {
				t.Fatal(err)
			}
			symlink(t, outside, filepath.Join(root, "etc"))
		}},
		{"symlinked etc, relative", func(t *testing.T, root string) {
			if err := os.Remove(filepath.Join(root, "etc")); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../../../../../../../../.."+outside, filepath.Join(root, "etc"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, root)
			if _, _, err := resolveUser(root, "evil", nil); err == nil || !strings.HasPrefix(err.Error(), "unable to find user evil") {
				t.Fatalf("resolveUser(evil) = %v: the host's sentinel passwd was read", err)
			}
			u, home, err := resolveUser(root, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			if u.GID != 0 || home != "/" {
				t.Errorf("root resolved to %+v home %q: the host's sentinel passwd was read", u, home)
			}
		})
	}

	// The same absolute symlink resolves inside the rootfs when the image
	// has a file there: that one is read.
	root := t.TempDir()
	inner := filepath.Join(root, sentinel)
	if err := os.MkdirAll(filepath.Dir(inner), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inner, []byte("evil:x:77:88::/inner:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, sentinel, filepath.Join(root, "etc/passwd"))
	u, home, err := resolveUser(root, "evil", nil)
	if err != nil || u.UID != 77 || u.GID != 88 || home != "/inner" {
		t.Errorf("resolveUser(evil) = %+v %q %v, want the rootfs's own entry (77:88)", u, home, err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestResolveUserSpecialFiles checks that a fifo or a device node at
// /etc/passwd is refused without being opened (a fifo would block, a
// device would be the host's).
func TestResolveUserSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := resolveUser(root, "alice", nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("resolveUser with a fifo passwd = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("resolveUser blocked on a fifo /etc/passwd")
	}
}

func TestResolveUserDeviceNode(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// /dev/zero: were it read, it would never end (the size limit stops
	// it) and its content is no passwd.
	if err := unix.Mknod(filepath.Join(root, "etc/passwd"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 5))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := resolveUser(root, "0", nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("resolveUser with a device passwd = %v", err)
	}
}
