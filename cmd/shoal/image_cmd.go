package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/shoal-dev/shoal/internal/image"
	"github.com/shoal-dev/shoal/internal/image/pull"
	"github.com/shoal-dev/shoal/internal/image/ref"
	"github.com/shoal-dev/shoal/internal/image/transfer"
	"github.com/shoal-dev/shoal/internal/metadata"
)

// The image verbs (pull, images, rmi, ...) talk to the daemon (see
// cli_image.go). With --data-root given explicitly they work in this
// process on that data root instead, without a daemon: the offline mode
// the image tests and first-time setup use. These are that mode's
// implementations; each reads its flags by name from the command.

// imageFlags are the root's persistent flags of the offline mode, which
// `shoal daemon` reads too.
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
	pf.StringVar(&f.dataRoot, "data-root", "/var/lib/shoal", "where images and containers are kept (image verbs: work on it in this process, without a daemon)")
	pf.StringVar(&f.snapshotter, "snapshotter", "", "overlay or native (default: overlay where it works)")
	pf.StringSliceVar(&f.insecure, "insecure-registry", nil, "registry that may be reached over plain HTTP (loopback ones always may)")
}

// offlineRun is an image verb of the offline mode.
type offlineRun func(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error

// isOffline reports whether --data-root was given: the image verbs then
// work in this process.
func isOffline(cmd *cobra.Command) bool {
	fl := cmd.Flag("data-root")
	return fl != nil && fl.Changed
}

// runOffline opens the image service on the flags' data root and runs
// run. Only the flags in allowed may be set: the others have no offline
// meaning.
func runOffline(cmd *cobra.Command, args []string, run offlineRun, allowed ...string) error {
	var bad error
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if bad != nil || cmd.Root().PersistentFlags().Lookup(fl.Name) != nil || slices.Contains(allowed, fl.Name) {
			return
		}
		bad = fmt.Errorf("--%s is not supported with --data-root (the in-process mode)", fl.Name)
	})
	if bad != nil {
		return bad
	}
	f := &imageFlags{
		dataRoot:    flagValue(cmd, "data-root", "/var/lib/shoal"),
		snapshotter: flagValue(cmd, "snapshotter", ""),
		insecure:    flagList(cmd, "insecure-registry"),
	}
	svc, closeFn, err := f.open(cmd.Context())
	if err != nil {
		return err
	}
	defer closeFn()
	return run(cmd.Context(), svc, cmd, args)
}

func getString(cmd *cobra.Command, name string) string {
	v, _ := cmd.Flags().GetString(name)
	return v
}

func getBool(cmd *cobra.Command, name string) bool {
	v, _ := cmd.Flags().GetBool(name)
	return v
}

func offlinePull(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
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
	if platform := getString(cmd, "platform"); platform != "" {
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
}

func offlineImages(ctx context.Context, svc *image.Service, cmd *cobra.Command, _ []string) error {
	quiet, noTrunc := getBool(cmd, "quiet"), getBool(cmd, "no-trunc")
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
}

func offlineTag(ctx context.Context, svc *image.Service, _ *cobra.Command, args []string) error {
	return svc.Tag(ctx, args[0], args[1])
}

func offlineRmi(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
	var failed error
	for _, a := range args {
		del, err := svc.Remove(ctx, a, getBool(cmd, "force"))
		for _, d := range del {
			if d.Untagged != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", d.Untagged)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", d.Deleted)
			}
		}
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error response from daemon: %v\n", err)
			failed = exitError(1)
		}
	}
	return failed
}

func offlineInspect(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
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
}

func offlinePush(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
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

func offlineSave(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
	var f transfer.Format
	switch format := getString(cmd, "format"); format {
	case "docker", "docker-archive":
		f = transfer.DockerArchive
	case "oci", "oci-archive":
		f = transfer.OCIArchive
	default:
		return fmt.Errorf("--format %q: must be docker or oci", format)
	}
	output := getString(cmd, "output")
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
}

func offlineLoad(ctx context.Context, svc *image.Service, cmd *cobra.Command, _ []string) error {
	var r io.Reader = cmd.InOrStdin()
	if input := getString(cmd, "input"); input != "" {
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
	if getBool(cmd, "quiet") {
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
}

func offlineImport(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
	opts := transfer.ImportOpts{Message: getString(cmd, "message")}
	for _, c := range getList(cmd, "change") {
		if err := applyChange(&opts.Changes, c); err != nil {
			return err
		}
	}
	var r io.Reader = cmd.InOrStdin()
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
}

func offlinePrune(ctx context.Context, svc *image.Service, cmd *cobra.Command, _ []string) error {
	if !getBool(cmd, "force") {
		return fmt.Errorf("prune removes images: pass -f to confirm (there is no prompt)")
	}
	del, err := svc.Prune(ctx, getBool(cmd, "all"))
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
}

func offlineHistory(ctx context.Context, svc *image.Service, cmd *cobra.Command, args []string) error {
	noTrunc := getBool(cmd, "no-trunc")
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
