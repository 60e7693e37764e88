package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/spf13/cobra"
)

func (cl *cli) newVolumeCmd() *cobra.Command {
	group := &cobra.Command{Use: "volume", Short: "Manage volumes", Args: noArgs}
	group.AddCommand(cl.newVolumeCreateCmd(), cl.newVolumeLsCmd(),
		cl.newTypedInspectCmd("inspect [OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes", getVolume),
		cl.newVolumeRmCmd(), cl.newVolumePruneCmd())
	return group
}

func (cl *cli) newVolumeCreateCmd() *cobra.Command {
	var driver string
	var opts mapValue
	var labels []string
	var u unsupported
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			name, _ := cmd.Flags().GetString("name")
			if len(args) == 1 {
				if name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				name = args[0]
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			req := volume.CreateRequest{Name: name, Driver: driver, DriverOpts: opts.m, Labels: map[string]string{}}
			if req.DriverOpts == nil {
				req.DriverOpts = map[string]string{}
			}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				req.Labels[k] = v
			}
			v, err := c.VolumeCreate(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(out(cmd), v.Name)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	fs.String("name", "", "Specify volume name")
	_ = fs.MarkHidden("name")
	fs.VarP(&opts, "opt", "o", "Set driver specific options")
	fs.Var(newList(&labels), "label", "Set metadata for a volume")
	for _, f := range []struct{ name, typ, usage string }{
		{"availability", "string", `Cluster Volume availability ("active", "pause", "drain")`},
		{"group", "string", "Cluster Volume group (cluster volumes)"},
		{"limit-bytes", "bytes", "Minimum size of the Cluster Volume in bytes"},
		{"required-bytes", "bytes", "Maximum size of the Cluster Volume in bytes"},
		{"scope", "string", `Cluster Volume access scope ("single", "multi")`},
		{"secret", "map", "Cluster Volume secrets"},
		{"sharing", "string", `Cluster Volume access sharing ("none", "readonly", "onewriter", "all")`},
		{"topology-preferred", "list", "A topology that the Cluster Volume would be preferred in"},
		{"topology-required", "list", "A topology that the Cluster Volume must be accessible from"},
		{"type", "string", `Cluster Volume access type ("mount", "block")`},
	} {
		u.add(fs, f.name, "", f.typ, f.usage)
	}
	return cmd
}

// volumeRow is one volume for ls's templates.
type volumeRow struct{ v volume.Volume }

func (r *volumeRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }
func (r *volumeRow) Name() string                 { return r.v.Name }
func (r *volumeRow) Driver() string               { return r.v.Driver }
func (r *volumeRow) Scope() string                { return r.v.Scope }
func (r *volumeRow) Mountpoint() string           { return r.v.Mountpoint }
func (r *volumeRow) Availability() string         { return "N/A" }
func (r *volumeRow) Group() string                { return "N/A" }
func (r *volumeRow) Status() string               { return "N/A" }

func (r *volumeRow) Labels() string {
	var l []string
	for k, v := range r.v.Labels {
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

func (r *volumeRow) Label(name string) string { return r.v.Labels[name] }

func (r *volumeRow) Links() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return fmt.Sprint(r.v.UsageData.RefCount)
}

func (r *volumeRow) Size() string {
	if r.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(r.v.UsageData.Size))
}

var volumeHeader = map[string]string{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
	"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Availability": "AVAILABILITY",
	"Group": "GROUP", "Status": "STATUS",
}

func (cl *cli) newVolumeLsCmd() *cobra.Command {
	var quiet bool
	var format string
	var filters filterFlag
	var u unsupported
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			list, err := c.VolumeList(cmd.Context(), filters.m)
			if err != nil {
				return err
			}
			vols := list.Volumes
			sort.Slice(vols, func(i, j int) bool { return naturalLess(vols[i].Name, vols[j].Name) })
			rows := make([]any, len(vols))
			for i := range vols {
				rows[i] = &volumeRow{v: vols[i]}
			}
			l := lister{format: format, table: "table {{.Driver}}\t{{.Name}}", header: volumeHeader}
			if quiet {
				l.quiet = "{{.Name}}"
			}
			return l.write(out(cmd), rows)
		},
	}
	fs := cmd.Flags()
	fs.VarP(&filters, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	u.add(fs, "cluster", "", "bool", "Display only cluster volumes, and use cluster volume list formatting")
	return cmd
}

// naturalLess orders strings with their digit runs as numbers ("v2" <
// "v10"), as the docker CLI sorts volumes.
func naturalLess(a, b string) bool {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na, nb := strings.TrimLeft(a[si:i], "0"), strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			if i-si != j-sj {
				return i-si < j-sj
			}
			continue
		}
		if a[i] != b[j] {
			return a[i] < b[j]
		}
		i++
		j++
	}
	return len(a)-i < len(b)-j
}

func (cl *cli) newVolumeRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			var failed runErrors
			for _, name := range args {
				if err := c.VolumeRemove(cmd.Context(), name, force); err != nil {
					failed.add(err)
					continue
				}
				fmt.Fprintln(out(cmd), name)
			}
			return failed.err()
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func (cl *cli) newVolumePruneCmd() *cobra.Command {
	var all, force bool
	var filters filterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			f := filters.m
			if f == nil {
				f = map[string][]string{}
			}
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				if _, ok := f["all"]; ok {
					return errors.New("conflicting options: cannot specify both --all and --filter all=1")
				}
				f["all"] = []string{"true"}
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !confirm(cmd, force, warning) {
				// docker 28 ends a declined prune quietly, with status 0.
				return nil
			}
			rep, err := c.VolumesPrune(cmd.Context(), f)
			if err != nil {
				return err
			}
			w := out(cmd)
			if len(rep.VolumesDeleted) > 0 {
				fmt.Fprintln(w, "Deleted Volumes:")
				for _, v := range rep.VolumesDeleted {
					fmt.Fprintln(w, v)
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Total reclaimed space: %s\n", units.HumanSize(float64(rep.SpaceReclaimed)))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	fs.Var(&filters, "filter", `Provide filter values (e.g. "label=<label>")`)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
