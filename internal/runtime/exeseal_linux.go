package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// sealedExe returns a descriptor of this binary that a container cannot
// write through (CVE-2019-5736): the binary seen through a private,
// read-only overlayfs mount that is never attached anywhere, or, where
// overlayfs cannot be mounted, a sealed memfd copy. The descriptor sits
// at a high number, close-on-exec, so os/exec's ExtraFiles never clobber it.
var sealedExe = sync.OnceValues(func() (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	f, err := overlayExe(self)
	if err != nil {
		f, err = memfdExe(self)
		if err != nil {
			return nil, fmt.Errorf("seal own binary: %w", err)
		}
	}
	hi, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 200)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return os.NewFile(uintptr(hi), "shoal-sealed"), nil
})

// memfdSealedExe is a sealed memfd copy of this binary, made on first
// use: startCmd's fallback when exec through the overlay descriptor keeps
// failing with EACCES.
var memfdSealedExe = sync.OnceValues(func() (*os.File, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own binary: %w", err)
	}
	f, err := memfdExe(self)
	if err != nil {
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	hi, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 200)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("seal own binary: %w", err)
	}
	return os.NewFile(uintptr(hi), "shoal-memfd-sealed"), nil
})

func overlayExe(self string) (*os.File, error) {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fsfd)
	// An overlay without an upper layer needs two lower layers, and they
	// must not overlap: the second is an empty, detached tmpfs.
	tfs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(tfs)
	if err := unix.FsconfigCreate(tfs); err != nil {
		return nil, err
	}
	empty, err := unix.Fsmount(tfs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)
	lower := filepath.Dir(self) + ":/proc/self/fd/" + strconv.Itoa(empty)
	if err := unix.FsconfigSetString(fsfd, "lowerdir", lower); err != nil {
		return nil, err
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return nil, err
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mfd)
	fd, err := unix.Openat(mfd, filepath.Base(self), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "shoal-overlay"), nil
}

func memfdExe(self string) (*os.File, error) {
	src, err := os.Open(self)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("shoal", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "shoal-memfd")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
