package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// attachDeviceFilter loads insts as a BPF_PROG_TYPE_CGROUP_DEVICE program and
// attaches it to the cgroup v2 directory dir, replacing the device programs
// attached there before.
//
// It uses BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, not a bpf_link: an
// attachment made that way lives as long as the cgroup, while a link would
// go away with the runtime process that created it. The new program is
// attached before the old ones are detached, so the cgroup is never left
// without a filter; during that moment both apply, and the kernel allows an
// access only if every program attached along the hierarchy allows it.
func attachDeviceFilter(dir string, insts asm.Instructions) error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.CGroupDevice,
		License:      "Apache-2.0",
		Instructions: insts,
	})
	if err != nil {
		return fmt.Errorf("load device filter: %w", err)
	}
	defer prog.Close()

	f, err := os.OpenFile(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup for device filter: %w", err)
	}
	defer f.Close()
	fd := int(f.Fd())

	var old []ebpf.ProgramID
	res, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	switch {
	case err == nil:
		for _, p := range res.Programs {
			old = append(old, p.ID)
		}
	case !errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("query device filters of %s: %w", dir, err)
	}

	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach device filter to %s: %w", dir, err)
	}

	var errs []error
	for _, id := range old {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // detached meanwhile
			}
			errs = append(errs, fmt.Errorf("open old device filter %d: %w", id, err))
			continue
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{
			Target:  fd,
			Program: p,
			Attach:  ebpf.AttachCGroupDevice,
		})
		p.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("detach old device filter %d from %s: %w", id, dir, err))
		}
	}
	return errors.Join(errs...)
}
