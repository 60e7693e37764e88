package main

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/image/ref"
)

const defaultContainerTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

var containerHeader = map[string]string{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
	"CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
	"Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
	"LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
}

// filterFlag is -f/--filter KEY=VALUE, repeatable.
type filterFlag struct{ m map[string][]string }

func (f *filterFlag) String() string { return "" }
func (f *filterFlag) Type() string   { return "filter" }
func (f *filterFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("bad format of filter (expected name=value)")
	}
	if f.m == nil {
		f.m = map[string][]string{}
	}
	k = strings.ToLower(strings.TrimSpace(k))
	f.m[k] = append(f.m[k], strings.TrimSpace(v))
	return nil
}

func (cl *cli) newPsCmd() *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var last int
	var format string
	var filters filterFlag
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			if format != "" && quiet {
				fmt.Fprintln(errOut(cmd), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
				format = ""
			}
			o := client.ListOptions{All: all, Size: size, Filters: filters.m}
			if last > 0 {
				o.Limit, o.All = last, true
			}
			if latest && last == -1 {
				o.Limit, o.All = 1, true
			}
			l := lister{format: format, table: defaultContainerTable, header: containerHeader}
			if quiet {
				l.quiet = "{{.ID}}"
			}
			if size {
				l.table += `\t{{.Size}}`
			} else if !cmd.Flags().Changed("size") && strings.Contains(format, ".Size") {
				o.Size = true
			}
			if format != "" {
				if _, err := template.New("").Funcs(templateFuncs).Parse(format); err != nil {
					return fmt.Errorf("failed to parse template: %w", err)
				}
			}
			list, err := c.ContainerList(cmd.Context(), o)
			if err != nil {
				return err
			}
			rows := make([]any, len(list))
			for i, s := range list {
				rows[i] = &containerRow{c: s, trunc: !noTrunc}
			}
			return l.write(out(cmd), rows)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fs.VarP(&filters, "filter", "f", "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fs.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fs.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// containerRow is one container for ps's templates: Docker's fields.
type containerRow struct {
	c     container.Summary
	trunc bool
}

func (r *containerRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *containerRow) ID() string {
	if r.trunc {
		return truncateID(r.c.ID)
	}
	return r.c.ID
}

// Names is the container's name without its slash; with --no-trunc its
// other names (legacy links) too.
func (r *containerRow) Names() string {
	var names []string
	for _, n := range r.c.Names {
		n = strings.TrimPrefix(n, "/")
		if r.trunc {
			if !strings.Contains(n, "/") {
				return n
			}
			continue
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (r *containerRow) Image() string {
	img := r.c.Image
	if img == "" {
		return "<no image>"
	}
	if !r.trunc {
		return img
	}
	if t := truncateID(r.c.ImageID); t == truncateID(img) {
		return t
	}
	return familiarImage(img)
}

// familiarImage is img as docker shows it: "docker.io/library/x" as "x",
// a digest dropped (the tag kept).
func familiarImage(img string) string {
	rf, err := ref.Parse(img)
	if err != nil {
		return img
	}
	name := rf.Familiar()
	name, _, _ = strings.Cut(name, "@")
	if rf.Tag() != "" {
		name = strings.TrimSuffix(name, ":"+rf.Tag())
		// Parse adds "latest" to a bare name: keep the tag only if img
		// has one.
		last := img
		if i := strings.LastIndex(img, "/"); i >= 0 {
			last = img[i+1:]
		}
		last, _, _ = strings.Cut(last, "@")
		if strings.Contains(last, ":") {
			name += ":" + rf.Tag()
		}
	}
	return name
}

func (r *containerRow) Command() string {
	cmd := r.c.Command
	if r.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

func (r *containerRow) CreatedAt() string { return time.Unix(r.c.Created, 0).String() }

func (r *containerRow) RunningFor() string {
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.c.Created, 0))) + " ago"
}

// platform is an image platform that prints as "linux/amd64".
type platform struct{ ocispec.Platform }

func (p platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Platform is the platform of the container's image, if known.
func (r *containerRow) Platform() *platform {
	d := r.c.ImageManifestDescriptor
	if d == nil || d.Platform == nil {
		return nil
	}
	return &platform{*d.Platform}
}

func (r *containerRow) Ports() string { return displayPorts(r.c.Ports) }

func (r *containerRow) State() string { return string(r.c.State) }

func (r *containerRow) Status() string { return r.c.Status }

func (r *containerRow) Size() string {
	srw := units.HumanSizeWithPrecision(float64(r.c.SizeRw), 3)
	if r.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(r.c.SizeRootFs), 3))
	}
	return srw
}

func (r *containerRow) Labels() string {
	var l []string
	for k, v := range r.c.Labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// Label is the value of label name.
func (r *containerRow) Label(name string) string { return r.c.Labels[name] }

func (r *containerRow) Mounts() string {
	var m []string
	for _, mp := range r.c.Mounts {
		name := mp.Name
		if name == "" {
			name = mp.Source
		}
		if r.trunc {
			name = ellipsis(name, 15)
		}
		m = append(m, name)
	}
	return strings.Join(m, ",")
}

func (r *containerRow) LocalVolumes() string {
	n := 0
	for _, m := range r.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r *containerRow) Networks() string {
	if r.c.NetworkSettings == nil {
		return ""
	}
	var n []string
	for k := range r.c.NetworkSettings.Networks {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ",")
}

// displayPorts is Docker's PORTS column: "0.0.0.0:80->8080/tcp, 9000/tcp",
// consecutive ports grouped into ranges.
func displayPorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	sorted := append([]container.PortSummary(nil), ports...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.IP != b.IP {
			return a.IP.Less(b.IP)
		}
		if a.PublicPort != b.PublicPort {
			return a.PublicPort < b.PublicPort
		}
		return a.Type < b.Type
	})
	groups := map[string]*group{}
	var keys, result, mappings []string
	for _, p := range sorted {
		cur := p.PrivatePort
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != cur {
				hp := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", hp, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{cur, cur}
			keys = append(keys, key)
			continue
		}
		if cur == g.last+1 {
			g.last = cur
			continue
		}
		result = append(result, formGroup(key, g.first, g.last))
		groups[key] = &group{cur, cur}
	}
	for _, k := range keys {
		g := groups[k]
		result = append(result, formGroup(k, g.first, g.last))
	}
	return strings.Join(append(result, mappings...), ", ")
}

func formGroup(key string, first, last uint16) string {
	ip, typ, hasIP := strings.Cut(key, "/")
	if !hasIP {
		typ, ip = key, ""
	}
	g := strconv.Itoa(int(first))
	if first != last {
		g = fmt.Sprintf("%s-%d", g, last)
	}
	if ip != "" {
		g = fmt.Sprintf("%s->%s", net.JoinHostPort(ip, g), g)
	}
	return g + "/" + typ
}
