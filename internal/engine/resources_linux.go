package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/filters"
	"github.com/shoal-dev/shoal/internal/runtime/cgroups"
)

// Top lists the container's processes with ps, as dockerd does.
func (e *Engine) Top(ctx context.Context, ref, psArgs string) (container.TopResponse, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return container.TopResponse{}, err
	}
	rec := c.snapshot()
	if rec.State.Status != StatusRunning && rec.State.Status != StatusPaused {
		return container.TopResponse{}, fmt.Errorf("container %s is not running: %w", rec.ID, errdefs.ErrConflict)
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	rt, _, err := e.runtime(rec.Runtime)
	if err != nil {
		return container.TopResponse{}, err
	}
	pids, err := rt.Pids(ctx, rec.ID)
	if err != nil {
		return container.TopResponse{}, err
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return container.TopResponse{}, fmt.Errorf("error running top: %w", err)
	}
	return parsePS(out, pids)
}

// parsePS keeps the rows of ps output whose PID is one of pids.
func parsePS(out []byte, pids []int) (container.TopResponse, error) {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	resp := container.TopResponse{Titles: strings.Fields(lines[0]), Processes: [][]string{}}
	col := -1
	for i, t := range resp.Titles {
		if t == "PID" {
			col = i
		}
	}
	if col < 0 {
		return resp, fmt.Errorf("Couldn't find PID field in ps output: %w", errdefs.ErrInvalidArgument)
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= col {
			continue
		}
		pid, err := strconv.Atoi(fields[col])
		if err != nil || !want[pid] {
			continue
		}
		// The last title takes the rest of the line (the command).
		n := len(resp.Titles)
		if len(fields) > n {
			fields = append(fields[:n-1], strings.Join(fields[n-1:], " "))
		}
		resp.Processes = append(resp.Processes, fields)
	}
	return resp, nil
}

// Stats reads the container's counters from its cgroup.
func (e *Engine) Stats(ctx context.Context, ref string) (container.StatsResponse, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return container.StatsResponse{}, err
	}
	rec := c.snapshot()
	resp := container.StatsResponse{ID: rec.ID, Name: rec.Name, OSType: "linux", Read: time.Now().UTC()}
	if rec.State.Status != StatusRunning && rec.State.Status != StatusPaused {
		return resp, nil
	}
	cg, err := cgroups.New(cgroups.Config{Path: filepath.Join(e.cgroupParent(rec.HostConfig), rec.ID)})
	if err != nil {
		return resp, err
	}
	st, err := cg.Stats()
	if err != nil {
		return resp, fmt.Errorf("read stats of %s: %w", ShortID(rec.ID), err)
	}
	resp.CPUStats = container.CPUStats{
		CPUUsage:       container.CPUUsage{TotalUsage: st.CPU.Total, UsageInKernelmode: st.CPU.System, UsageInUsermode: st.CPU.User},
		SystemUsage:    systemCPUUsage(),
		OnlineCPUs:     uint32(goruntime.NumCPU()),
		ThrottlingData: container.ThrottlingData{ThrottledPeriods: st.CPU.ThrottledPeriods, ThrottledTime: st.CPU.ThrottledTime},
	}
	limit := st.Memory.Limit
	if limit == 0 || limit > totalMemory() {
		limit = totalMemory()
	}
	resp.MemoryStats = container.MemoryStats{Usage: st.Memory.Usage, MaxUsage: st.Memory.MaxUsage, Limit: limit, Stats: st.Memory.Stat}
	resp.PidsStats = container.PidsStats{Current: st.Pids.Current, Limit: st.Pids.Limit}
	for _, io := range st.IO {
		resp.BlkioStats.IoServiceBytesRecursive = append(resp.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: io.Major, Minor: io.Minor, Op: "read", Value: io.ReadBytes},
			container.BlkioStatEntry{Major: io.Major, Minor: io.Minor, Op: "write", Value: io.WriteBytes})
	}
	return resp, nil
}

// systemCPUUsage is the host's total CPU time in nanoseconds, from
// /proc/stat, as Docker reports it.
func systemCPUUsage() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range fields[1:8] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
		return ticks * uint64(time.Second/100)
	}
	return 0
}

func totalMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// Update changes a container's resources and restart policy.
func (e *Engine) Update(ctx context.Context, ref string, u container.UpdateConfig) ([]string, error) {
	c, err := e.lookup(ref)
	if err != nil {
		return nil, err
	}
	c.busy.Lock()
	defer c.busy.Unlock()
	rec := c.snapshot()
	hc := *rec.HostConfig
	if u.RestartPolicy.Name != "" {
		if hc.AutoRemove {
			return nil, fmt.Errorf("Cannot update restart policy for container with AutoRemove enabled: %w", errdefs.ErrInvalidArgument)
		}
		hc.RestartPolicy = u.RestartPolicy
		if err := checkRestartPolicy(&hc); err != nil {
			return nil, err
		}
	}
	if err := mergeResources(&hc.Resources, u.Resources); err != nil {
		return nil, err
	}
	if err := validateResources(&hc); err != nil {
		return nil, err
	}
	if rec.State.Status == StatusRunning || rec.State.Status == StatusPaused {
		rt, _, err := e.runtime(rec.Runtime)
		if err != nil {
			return nil, err
		}
		if err := rt.Update(ctx, rec.ID, linuxResources(u.Resources, hc.Resources)); err != nil {
			return nil, fmt.Errorf("Cannot update container %s: %w", rec.ID, err)
		}
	}
	c.mu.Lock()
	c.rec.HostConfig = &hc
	err = e.save(ctx, c)
	r := *c.rec
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	e.emit(&r, "update", nil)
	return []string{}, nil
}

// mergeResources applies the fields an update sets.
func mergeResources(dst *container.Resources, u container.Resources) error {
	if len(u.Devices) > 0 || len(u.DeviceCgroupRules) > 0 || len(u.Ulimits) > 0 {
		return fmt.Errorf("devices and ulimits cannot be updated on a container: %w", errdefs.ErrInvalidArgument)
	}
	set := func(d *int64, v int64) {
		if v != 0 {
			*d = v
		}
	}
	set(&dst.Memory, u.Memory)
	set(&dst.MemorySwap, u.MemorySwap)
	set(&dst.MemoryReservation, u.MemoryReservation)
	set(&dst.CPUShares, u.CPUShares)
	set(&dst.CPUPeriod, u.CPUPeriod)
	set(&dst.CPUQuota, u.CPUQuota)
	set(&dst.NanoCPUs, u.NanoCPUs)
	if u.PidsLimit != nil {
		dst.PidsLimit = u.PidsLimit
	}
	if u.CpusetCpus != "" {
		dst.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		dst.CpusetMems = u.CpusetMems
	}
	if u.BlkioWeight != 0 {
		dst.BlkioWeight = u.BlkioWeight
	}
	if u.NanoCPUs != 0 && (u.CPUQuota != 0 || u.CPUPeriod != 0) {
		return fmt.Errorf("Conflicting options: Nano CPUs cannot be updated as CPU Period/Quota has already been set: %w", errdefs.ErrInvalidArgument)
	}
	if u.NanoCPUs != 0 {
		dst.CPUQuota, dst.CPUPeriod = 0, 0
	}
	if u.CPUQuota != 0 || u.CPUPeriod != 0 {
		dst.NanoCPUs = 0
	}
	return nil
}

func validateResources(hc *container.HostConfig) error {
	r := hc.Resources
	if r.Memory > 0 && r.Memory < 6*1024*1024 {
		return fmt.Errorf("Minimum memory limit allowed is 6MB: %w", errdefs.ErrInvalidArgument)
	}
	if r.MemorySwap > 0 && r.Memory > 0 && r.MemorySwap < r.Memory {
		return fmt.Errorf("Minimum memoryswap limit should be larger than memory limit, see usage: %w", errdefs.ErrInvalidArgument)
	}
	if r.NanoCPUs < 0 || r.NanoCPUs > int64(goruntime.NumCPU())*1e9 {
		return fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available: %w", goruntime.NumCPU(), goruntime.NumCPU(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// linuxResources is the OCI form of the updated resources.
func linuxResources(u, all container.Resources) *specs.LinuxResources {
	lr := &specs.LinuxResources{}
	if u.Memory != 0 || u.MemorySwap != 0 || u.MemoryReservation != 0 {
		m := &specs.LinuxMemory{}
		if all.Memory != 0 {
			m.Limit = ptr(all.Memory)
		}
		if all.MemorySwap != 0 {
			m.Swap = ptr(all.MemorySwap)
		} else if u.Memory != 0 {
			// Docker: an update of the memory alone keeps swap at twice it.
			m.Swap = ptr(all.Memory * 2)
		}
		if all.MemoryReservation != 0 {
			m.Reservation = ptr(all.MemoryReservation)
		}
		lr.Memory = m
	}
	cpu := &specs.LinuxCPU{}
	any := false
	if u.CPUShares != 0 {
		cpu.Shares, any = ptr(uint64(u.CPUShares)), true
	}
	if u.NanoCPUs != 0 {
		period := uint64(100000)
		cpu.Period, cpu.Quota, any = &period, ptr(u.NanoCPUs*int64(period)/1e9), true
	}
	if u.CPUQuota != 0 {
		cpu.Quota, any = ptr(u.CPUQuota), true
	}
	if u.CPUPeriod != 0 {
		cpu.Period, any = ptr(uint64(u.CPUPeriod)), true
	}
	if u.CpusetCpus != "" {
		cpu.Cpus, any = u.CpusetCpus, true
	}
	if u.CpusetMems != "" {
		cpu.Mems, any = u.CpusetMems, true
	}
	if any {
		lr.CPU = cpu
	}
	if u.PidsLimit != nil {
		limit := *u.PidsLimit
		if limit <= 0 {
			limit = -1
		}
		lr.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if u.BlkioWeight != 0 {
		lr.BlockIO = &specs.LinuxBlockIO{Weight: &u.BlkioWeight}
	}
	return lr
}

func ptr[T any](v T) *T { return &v }

// Prune removes the stopped containers the filters select.
func (e *Engine) Prune(ctx context.Context, f filters.Args) (container.PruneReport, error) {
	if err := f.Validate(map[string]bool{"until": true, "label": true, "label!": true}); err != nil {
		return container.PruneReport{}, err
	}
	var until time.Time
	if u := f.Get("until"); len(u) > 0 {
		t, err := parseUntil(u[0])
		if err != nil {
			return container.PruneReport{}, err
		}
		until = t
	}
	rep := container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range e.list() {
		rec := c.snapshot()
		if rec.State.Status != StatusExited && rec.State.Status != StatusCreated && rec.State.Status != StatusDead {
			continue
		}
		if !until.IsZero() && !rec.Created.Before(until) {
			continue
		}
		if !f.MatchKVList("label", rec.Config.Labels) {
			continue
		}
		if neg := f.Get("label!"); len(neg) > 0 {
			skip := false
			for _, want := range neg {
				k, v, hasV := strings.Cut(want, "=")
				if got, ok := rec.Config.Labels[k]; ok && (!hasV || got == v) {
					skip = true
				}
			}
			if skip {
				continue
			}
		}
		if err := e.Remove(ctx, rec.ID, RemoveOptions{}); err != nil {
			if errdefs.IsNotFound(err) || errdefs.IsConflict(err) {
				continue
			}
			return rep, err
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, rec.ID)
	}
	return rep, nil
}

func parseUntil(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(int64(n), 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid filter 'until=%s': %w", s, errdefs.ErrInvalidArgument)
}

// UsesImage reports the containers created from the image id.
func (e *Engine) UsesImage(id string) []string {
	var out []string
	for _, c := range e.list() {
		if r := c.snapshot(); r.ImageID == id {
			out = append(out, r.ID)
		}
	}
	return out
}
