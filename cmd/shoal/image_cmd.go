package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/ref"
	"github.com/shoal-dev/shoal/internal/image/transfer"
	"github.com/shoal-dev/shoal/internal/metadata"
)

// imageFlags are the options of the image verbs. Until the daemon exists
// they drive the image service in this process, on the data root.
type imageFlags struct {
	dataRoot    string
	snapshotter string
	insecure    []string
}

func (f *imageFlags) open(ctx context.Context) (*image.Service, func(), error) {
	root, err := filepath.Abs(f.dataRoot)
	if err != nil {
		return nil, nil, err
	}
	db, err := metadata.Open(ctx, filepath.Join(root, "state.db"))
	if err != nil {
		return nil, nil, err
	}
	svc, err := image.New(ctx, image.Config{Root: root, Snapshotter: f.snapshotter, InsecureRegistries: f.insecure}, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return svc, func() { svc.Close(); db.Close() }, nil
}

func addImageCmds(root *cobra.Command) {
	f := &imageFlags{}
	pf := root.PersistentFlags()
	pf.StringVar(&f.dataRoot, "data-root", "/var/lib/shoal", "where images and containers are kept")
	pf.StringVar(&f.snapshotter, "snapshotter", "", "overlay or native (default: overlay where it works)")
	pf.StringSliceVar(&f.insecure, "insecure-registry", nil, "registry that may be reached over plain HTTP (loopback ones always may)")

	with := func(run func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			svc, closeFn, err := f.open(cmd.Context())
			if err != nil {
				return err
			}
			defer closeFn()
			return run(cmd.Context(), svc, cmd, args)
		}
	}
	mk := func() []*cobra.Command {
		var platform string
		pullCmd := &cobra.Command{
			Use: "pull NAME[:TAG|@DIGEST]", Short: "download an image from a registry", Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
				r, err := ref.Parse(args[0])
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if !strings.Contains(args[0], ":") && r.Digest() == "" {
					fmt.Fprintf(out, "Using default tag: %s\n", r.Tag())
				}
				what := r.Tag()
				if r.Digest() != "" {
					what = r.Digest().String()
				}
				fmt.Fprintf(out, "%s: Pulling from %s\n", what, r.Repository())
				view := newProgressView(out)
				opts := []image.PullOpt{pull.WithProgress(view.update)}
				if platform != "" {
					opts = append(opts, pull.WithPlatform(platform))
				}
				img, err := svc.Pull(ctx, args[0], opts...)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "Digest: %s\n", img.Target.Digest)
				fmt.Fprintf(out, "Status: Downloaded newer image for %s\n", r.Familiar())
				fmt.Fprintln(out, r.String())
				return nil
			}),
		}
		pullCmd.Flags().StringVar(&platform, "platform", "", "platform of a multi-platform image (os/arch[/variant])")

		var quiet, noTrunc bool
		lsCmd := &cobra.Command{
			Use: "images", Aliases: []string{"ls"}, Short: "list images", Args: cobra.NoArgs,
			RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, _ []string) error {
				rows, err := svc.List(ctx)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if quiet {
					seen := map[string]bool{}
					for _, r := range rows {
						id := idString(r.ID.String(), noTrunc)
						if !seen[id] {
							seen[id] = true
							fmt.Fprintln(out, id)
						}
					}
					return nil
				}
				tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
				fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, idString(r.ID.String(), noTrunc), humanAgo(r.Created), humanSize(r.Size))
				}
				return tw.Flush()
			}),
		}
		lsCmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "only show image IDs")
		lsCmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")

		tagCmd := &cobra.Command{
			Use: "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", Short: "give an image another name", Args: cobra.ExactArgs(2),
			RunE: with(func(ctx context.Context, svc *image.Service, _ *cobra.Command, args []string) error {
				return svc.Tag(ctx, args[0], args[1])
			}),
		}
		var force bool
		rmCmd := &cobra.Command{
			Use: "rmi IMAGE...", Aliases: []string{"rm"}, Short: "remove images", Args: cobra.MinimumNArgs(1),
			RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
				var failed error
				for _, a := range args {
					del, err := svc.Remove(ctx, a, force)
					for _, d := range del {
						if d.Untagged != "" {
							fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", d.Untagged)
						} else {
							fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", d.Deleted)
						}
					}
					if err != nil {
						fmt.Fprintf(os.Stderr, "Error response from daemon: %v\n", err)
						failed = exitError(1)
					}
				}
				return failed
			}),
		}
		rmCmd.Flags().BoolVarP(&force, "force", "f", false, "remove an image with several names by ID")

		inspectCmd := &cobra.Command{
			Use: "inspect IMAGE...", Short: "show images' records and configs as JSON", Args: cobra.MinimumNArgs(1),
			RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
				var out []any
				for _, a := range args {
					img, err := svc.Get(ctx, a)
					if err != nil {
						return err
					}
					var tags []string
					for _, n := range img.Names {
						if r, err := ref.Parse(n); err == nil {
							tags = append(tags, r.Familiar())
						}
					}
					out = append(out, map[string]any{
						"Id": img.ID, "RepoTags": tags, "Created": img.Config.Created,
						"Architecture": img.Config.Architecture, "Os": img.Config.OS,
						"Config": img.Config.Config, "RootFS": img.Config.RootFS,
						"Descriptor": img.Target,
					})
				}
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "    ")
				return enc.Encode(out)
			}),
		}
		pushCmd := &cobra.Command{
			Use: "push NAME[:TAG]", Short: "upload an image to a registry", Args: cobra.ExactArgs(1),
			RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
				r, err := ref.Parse(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "The push refers to repository [%s]\n", strings.TrimSuffix(r.Familiar(), ":"+r.Tag()))
				img, err := svc.Push(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: digest: %s size: %d\n", r.Tag(), img.Target.Digest, img.Target.Size)
				return nil
			}),
		}
		return append([]*cobra.Command{pullCmd, pushCmd, lsCmd, tagCmd, rmCmd, inspectCmd}, archiveCmds(with)...)
	}
	// docker pull / docker images / docker tag / docker rmi at the top
	// level, and the same verbs under `shoal image` (ls, rm).
	for _, c := range mk() {
		if c.Name() != "prune" { // docker has no top-level prune
			root.AddCommand(c)
		}
	}
	group := &cobra.Command{Use: "image", Short: "manage images"}
	for _, c := range mk() {
		switch c.Name() {
		case "images":
			c.Use = "ls"
			c.Aliases = []string{"list"}
		case "rmi":
			c.Use = "rm IMAGE..."
			c.Aliases = nil
		}
		group.AddCommand(c)
	}
	root.AddCommand(group)
}

func idString(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// humanAgo is Docker's "2 weeks ago" (go-units HumanDuration).
func humanAgo(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := time.Since(t)
	switch s := d.Seconds(); {
	case s < 1:
		return "Less than a second ago"
	case s < 2:
		return "1 second ago"
	case s < 60:
		return fmt.Sprintf("%d seconds ago", int(s))
	}
	switch m := d.Minutes(); {
	case m < 2:
		return "About a minute ago"
	case m < 60:
		return fmt.Sprintf("%d minutes ago", int(m))
	}
	switch h := d.Hours(); {
	case h < 2:
		return "About an hour ago"
	case h < 48:
		return fmt.Sprintf("%d hours ago", int(h))
	case h < 24*7*2:
		return fmt.Sprintf("%d days ago", int(h/24))
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks ago", int(h/24/7))
	case h < 24*365*2:
		return fmt.Sprintf("%d months ago", int(h/24/30))
	default:
		return fmt.Sprintf("%d years ago", int(h/24/365))
	}
}

// humanSize is Docker's decimal size with 3 significant digits ("4.26MB").
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

func archiveCmds(with func(run func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error) []*cobra.Command {
	var output, format string
	save := &cobra.Command{
		Use: "save [-o FILE] IMAGE...", Short: "write images to a tar archive (docker save format, or an OCI layout)", Args: cobra.MinimumNArgs(1),
		RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
			var f transfer.Format
			switch format {
			case "docker", "docker-archive":
				f = transfer.DockerArchive
			case "oci", "oci-archive":
				f = transfer.OCIArchive
			default:
				return fmt.Errorf("--format %q: must be docker or oci", format)
			}
			var w io.Writer = cmd.OutOrStdout()
			if output != "" {
				tmp := output + ".tmp"
				file, err := os.Create(tmp)
				if err != nil {
					return err
				}
				if err := svc.Save(ctx, args, file, f); err != nil {
					file.Close()
					os.Remove(tmp)
					return err
				}
				if err := file.Close(); err != nil {
					os.Remove(tmp)
					return err
				}
				return os.Rename(tmp, output)
			}
			if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			return svc.Save(ctx, args, w, f)
		}),
	}
	save.Flags().StringVarP(&output, "output", "o", "", "write to a file instead of stdout")
	save.Flags().StringVar(&format, "format", "docker", "docker (docker save format, with an OCI layout inside) or oci (an OCI image layout)")

	var input string
	var quiet bool
	load := &cobra.Command{
		Use: "load [-i FILE]", Short: "load images from a tar archive (docker save, skopeo or OCI layout)", Args: cobra.NoArgs,
		RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, _ []string) error {
			var r io.Reader = os.Stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			imgs, err := svc.Load(ctx, r)
			if err != nil {
				return err
			}
			if quiet {
				return nil
			}
			for _, img := range imgs {
				if len(img.Names) == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image ID: %s\n", img.ID)
				}
				for _, n := range img.Names {
					if r, err := ref.Parse(n); err == nil {
						fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", r.Familiar())
					}
				}
			}
			return nil
		}),
	}
	load.Flags().StringVarP(&input, "input", "i", "", "read from a file instead of stdin")
	load.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing")

	var message string
	var changes []string
	imp := &cobra.Command{
		Use: "import FILE|- [REPOSITORY[:TAG]]", Short: "make an image of a root filesystem tarball", Args: cobra.RangeArgs(1, 2),
		RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
			opts := transfer.ImportOpts{Message: message}
			for _, c := range changes {
				if err := applyChange(&opts.Changes, c); err != nil {
					return err
				}
			}
			var r io.Reader = os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			img, err := svc.Import(ctx, r, name, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			return nil
		}),
	}
	imp.Flags().StringVarP(&message, "message", "m", "", "commit message for the imported image")
	imp.Flags().StringArrayVarP(&changes, "change", "c", nil, "Dockerfile instruction for the image config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE")
	var all, yes bool
	prune := &cobra.Command{
		Use: "prune", Short: "remove images without a name (-a: every image)", Args: cobra.NoArgs,
		RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, _ []string) error {
			if !yes {
				return fmt.Errorf("prune removes images: pass -f to confirm (there is no prompt)")
			}
			del, err := svc.Prune(ctx, all)
			out := cmd.OutOrStdout()
			if len(del) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
			}
			for _, d := range del {
				if d.Untagged != "" {
					fmt.Fprintf(out, "untagged: %s\n", d.Untagged)
				} else {
					fmt.Fprintf(out, "deleted: %s\n", d.Deleted)
				}
			}
			return err
		}),
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove every image, not only dangling ones")
	prune.Flags().BoolVarP(&yes, "force", "f", false, "do not ask for confirmation")

	var noTrunc bool
	history := &cobra.Command{
		Use: "history IMAGE", Short: "show the history of an image", Args: cobra.ExactArgs(1),
		RunE: with(func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
			img, err := svc.Get(ctx, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
			layer := len(img.Manifest.Layers) - 1
			for i := len(img.Config.History) - 1; i >= 0; i-- {
				h := img.Config.History[i]
				id := "<missing>"
				if i == len(img.Config.History)-1 {
					id = idString(img.ID.String(), noTrunc)
				}
				var size int64
				if !h.EmptyLayer && layer >= 0 {
					size = img.Manifest.Layers[layer].Size
					layer--
				}
				created := "N/A"
				if h.Created != nil {
					created = humanAgo(*h.Created)
				}
				by := h.CreatedBy
				if !noTrunc && len(by) > 45 {
					by = by[:44] + "…"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, created, by, humanSize(size), h.Comment)
			}
			return tw.Flush()
		}),
	}
	history.Flags().BoolVar(&noTrunc, "no-trunc", false, "don't truncate output")
	return []*cobra.Command{save, load, imp, prune, history}
}

// applyChange applies one --change instruction, as `docker import -c`.
func applyChange(c *ocispec.ImageConfig, change string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	list := func() []string {
		var v []string
		if strings.HasPrefix(rest, "[") && json.Unmarshal([]byte(rest), &v) == nil {
			return v
		}
		return []string{"/bin/sh", "-c", rest}
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		c.Cmd = list()
	case "ENTRYPOINT":
		c.Entrypoint = list()
	case "ENV":
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			k, v, _ = strings.Cut(rest, " ")
		}
		c.Env = append(c.Env, strings.TrimSpace(k)+"="+strings.TrimSpace(v))
	case "WORKDIR":
		c.WorkingDir = rest
	case "USER":
		c.User = rest
	case "LABEL":
		k, v, _ := strings.Cut(rest, "=")
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	case "EXPOSE":
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			c.ExposedPorts[p] = struct{}{}
		}
	default:
		return fmt.Errorf("--change %q: %s is not a valid change command", change, instr)
	}
	return nil
}
