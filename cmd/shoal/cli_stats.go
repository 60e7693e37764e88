package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
)

const defaultStatsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeader = map[string]string{
	"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// statsEntry is one container's figures, computed from a sample and the
// one before it.
type statsEntry struct {
	container, name, id                 string
	cpu, mem, memLimit, memPerc         float64
	netRx, netTx, blockRead, blockWrite float64
	pids                                uint64
	invalid                             bool
}

func computeStats(ref string, s container.StatsResponse) statsEntry {
	e := statsEntry{container: ref, name: s.Name, id: s.ID}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		e.cpu = cpuDelta / sysDelta * online * 100
	}
	usage := float64(s.MemoryStats.Usage)
	// The page cache that can be dropped is not the container's use
	// (cgroup v1 names it total_inactive_file, v2 inactive_file).
	if v, ok := s.MemoryStats.Stats["total_inactive_file"]; ok && float64(v) < usage {
		usage -= float64(v)
	} else if v, ok := s.MemoryStats.Stats["inactive_file"]; ok && float64(v) < usage {
		usage -= float64(v)
	}
	e.mem, e.memLimit = usage, float64(s.MemoryStats.Limit)
	if e.memLimit != 0 {
		e.memPerc = usage / e.memLimit * 100
	}
	for _, n := range s.Networks {
		e.netRx += float64(n.RxBytes)
		e.netTx += float64(n.TxBytes)
	}
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			e.blockRead += float64(b.Value)
		case "write":
			e.blockWrite += float64(b.Value)
		}
	}
	e.pids = s.PidsStats.Current
	return e
}

// statsRow is one container for stats's templates.
type statsRow struct {
	e     statsEntry
	trunc bool
}

func (r *statsRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r *statsRow) Container() string            { return r.e.container }

func (r *statsRow) Name() string {
	if len(r.e.name) > 1 {
		return strings.TrimPrefix(r.e.name, "/")
	}
	return "--"
}

func (r *statsRow) ID() string {
	if r.trunc {
		return truncateID(r.e.id)
	}
	return r.e.id
}

func pct(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }

func (r *statsRow) CPUPerc() string {
	if r.e.invalid {
		return "--"
	}
	return pct(r.e.cpu)
}

func (r *statsRow) MemUsage() string {
	if r.e.invalid {
		return "-- / --"
	}
	return units.BytesSize(r.e.mem) + " / " + units.BytesSize(r.e.memLimit)
}

func (r *statsRow) MemPerc() string {
	if r.e.invalid {
		return "--"
	}
	return pct(r.e.memPerc)
}

func (r *statsRow) NetIO() string {
	if r.e.invalid {
		return "--"
	}
	return units.HumanSizeWithPrecision(r.e.netRx, 3) + " / " + units.HumanSizeWithPrecision(r.e.netTx, 3)
}

func (r *statsRow) BlockIO() string {
	if r.e.invalid {
		return "--"
	}
	return units.HumanSizeWithPrecision(r.e.blockRead, 3) + " / " + units.HumanSizeWithPrecision(r.e.blockWrite, 3)
}

func (r *statsRow) PIDs() string {
	if r.e.invalid {
		return "--"
	}
	return strconv.FormatUint(r.e.pids, 10)
}

func (cl *cli) newStatsCmd() *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			refs := args
			if len(refs) == 0 {
				list, err := c.ContainerList(ctx, client.ListOptions{All: all})
				if err != nil {
					return err
				}
				for _, s := range list {
					refs = append(refs, s.ID)
				}
			}
			l := lister{format: format, table: defaultStatsTable, header: statsHeader}
			entries := make([]statsEntry, len(refs))
			var mu sync.Mutex
			var firstErr error
			if noStream {
				errs := parallel(ctx, refs, func(ctx context.Context, ref string) error {
					s, err := oneStats(ctx, c, ref)
					mu.Lock()
					defer mu.Unlock()
					for i, r := range refs {
						if r == ref {
							entries[i] = s
						}
					}
					return err
				})
				for _, err := range errs {
					if err != nil && firstErr == nil {
						firstErr = err
					}
				}
				if firstErr != nil && len(args) > 0 {
					return firstErr
				}
				return l.write(out(cmd), statsRows(entries, !noTrunc))
			}
			// Streaming: one reader per container, the table redrawn every
			// second.
			for i, ref := range refs {
				entries[i] = statsEntry{container: ref, id: ref, invalid: true}
				go func() {
					body, err := c.ContainerStats(ctx, ref, true)
					if err != nil {
						return
					}
					defer body.Close()
					dec := json.NewDecoder(body)
					for {
						var s container.StatsResponse
						if err := dec.Decode(&s); err != nil {
							mu.Lock()
							entries[i].invalid = true
							mu.Unlock()
							return
						}
						mu.Lock()
						entries[i] = computeStats(ref, s)
						mu.Unlock()
					}
				}()
			}
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
				var b bytes.Buffer
				mu.Lock()
				rows := statsRows(entries, !noTrunc)
				mu.Unlock()
				if err := l.write(&b, rows); err != nil {
					return err
				}
				fmt.Fprint(out(cmd), "\x1b[2J\x1b[H")
				_, _ = b.WriteTo(out(cmd))
			}
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fs.BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	return cmd
}

func statsRows(entries []statsEntry, trunc bool) []any {
	rows := make([]any, len(entries))
	for i := range entries {
		rows[i] = &statsRow{e: entries[i], trunc: trunc}
	}
	return rows
}

// oneStats is one sample of a container, with the CPU use since the
// sample before it.
func oneStats(ctx context.Context, c *client.Client, ref string) (statsEntry, error) {
	body, err := c.ContainerStats(ctx, ref, false)
	if err != nil {
		return statsEntry{container: ref, id: ref, invalid: true}, err
	}
	defer body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(body).Decode(&s); err != nil {
		return statsEntry{container: ref, id: ref, invalid: true}, fmt.Errorf("read stats of %s: %w", ref, err)
	}
	return computeStats(ref, s), nil
}
