package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/image/ref"
)

// getList is the values of a list flag.
func getList(cmd *cobra.Command, name string) []string {
	if fl := cmd.Flags().Lookup(name); fl != nil {
		if l, ok := fl.Value.(*listValue); ok && l.v != nil {
			return *l.v
		}
	}
	return nil
}

// imageVerb wraps a daemon verb: with --data-root it runs offline (the
// in-process image service), which knows only the flags in allowed.
func imageVerb(run func(cmd *cobra.Command, args []string) error, offline offlineRun, allowed ...string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if isOffline(cmd) {
			return runOffline(cmd, args, offline, allowed...)
		}
		return run(cmd, args)
	}
}

// addImageVerbs registers pull, push, images, tag, rmi, save, load,
// import and history at the top level and under `image` (with ls, rm,
// inspect and prune).
func (cl *cli) addImageVerbs(root *cobra.Command) {
	for _, c := range []*cobra.Command{
		cl.newPullCmd(), cl.newPushCmd(), cl.newImagesCmd(), cl.newTagCmd(), cl.newRmiCmd(),
		cl.newSaveCmd(), cl.newLoadCmd(), cl.newImportCmd(), cl.newHistoryCmd(),
	} {
		root.AddCommand(setupCmd(c))
	}
	group := &cobra.Command{Use: "image", Short: "Manage images", Args: noArgs}
	ls := cl.newImagesCmd()
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := cl.newRmiCmd()
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"rmi", "remove"}
	inspect := cl.newTypedInspectCmd("inspect [OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images", getImage)
	var u unsupported
	u.add(inspect.Flags(), "platform", "", "string", "Inspect a specific platform of the multi-platform image")
	inspectRun := inspect.RunE
	inspect.RunE = imageVerb(func(cmd *cobra.Command, args []string) error {
		if err := u.check(cmd.Flags()); err != nil {
			return err
		}
		return inspectRun(cmd, args)
	}, offlineInspect)
	group.AddCommand(cl.newPullCmd(), cl.newPushCmd(), ls, cl.newTagCmd(), rm, cl.newSaveCmd(), cl.newLoadCmd(),
		cl.newImportCmd(), cl.newHistoryCmd(), inspect, cl.newImagePruneCmd())
	root.AddCommand(setupCmd(group))
}

func (cl *cli) newPullCmd() *cobra.Command {
	var platform string
	var quiet bool
	var u unsupported
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			r, err := ref.Parse(args[0])
			if err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			w := out(cmd)
			if quiet {
				w = io.Discard
			}
			name := args[0]
			if !hasTagOrDigest(args[0]) {
				fmt.Fprintf(w, "Using default tag: %s\n", r.Tag())
				name = r.Familiar()
			}
			if err := cl.pullImage(cmd.Context(), c, name, platform, w); err != nil {
				return err
			}
			fmt.Fprintln(out(cmd), r.String())
			return nil
		}, offlinePull, "platform"),
	}
	fs := cmd.Flags()
	fs.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	u.add(fs, "all-tags", "a", "bool", "Download all tagged images in the repository")
	fs.Bool("disable-content-trust", true, "Skip image verification")
	return cmd
}

// hasTagOrDigest reports whether a reference names its tag or digest.
func hasTagOrDigest(s string) bool {
	if strings.Contains(s, "@") {
		return true
	}
	last := s[strings.LastIndex(s, "/")+1:]
	return strings.Contains(last, ":")
}

func (cl *cli) newPushCmd() *cobra.Command {
	var quiet bool
	var u unsupported
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			r, err := ref.Parse(args[0])
			if err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			name, tag := r.Name(), ""
			if hasTagOrDigest(args[0]) {
				tag = r.Tag()
			}
			body, err := c.ImagePush(cmd.Context(), name, tag, "")
			if err != nil {
				return err
			}
			defer body.Close()
			w := out(cmd)
			if quiet {
				w = io.Discard
			}
			if err := displayStream(body, w, nil); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(out(cmd), r.String())
			}
			return nil
		}, offlinePush),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	u.add(fs, "all-tags", "a", "bool", "Push all tags of an image to the repository")
	u.add(fs, "platform", "", "string", "Push a platform-specific manifest as a single-platform image to the registry")
	fs.Bool("disable-content-trust", true, "Skip image signing")
	return cmd
}

const (
	defaultImageTable           = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	defaultImageTableWithDigest = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

var imageHeader = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
	"Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

func (cl *cli) newImagesCmd() *cobra.Command {
	var all, digests, noTrunc, quiet bool
	var format string
	var filters filterFlag
	var u unsupported
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  rangeArgs(0, 1),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			f := filters.m
			if len(args) == 1 {
				if f == nil {
					f = map[string][]string{}
				}
				f["reference"] = append(f["reference"], args[0])
			}
			list, err := c.ImageList(cmd.Context(), all, f)
			if err != nil {
				return err
			}
			l := lister{format: format, table: defaultImageTable, header: imageHeader}
			if digests {
				l.table = defaultImageTableWithDigest
				if strings.HasPrefix(format, "table") && !strings.Contains(format, "{{.Digest}}") {
					l.format += `\t{{.Digest}}`
				}
			}
			if quiet {
				l.quiet = "{{.ID}}"
			}
			needDigest := digests || strings.Contains(format, "{{.Digest}}")
			var rows []any
			for _, img := range list {
				for _, r := range imageRows(img, !noTrunc, needDigest, digests) {
					rows = append(rows, r)
				}
			}
			return l.write(out(cmd), rows)
		}, offlineImages, "quiet", "no-trunc"),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fs.BoolVar(&digests, "digests", false, "Show digests")
	fs.VarP(&filters, "filter", "f", "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	u.add(fs, "tree", "", "bool", "List multi-platform images as a tree (EXPERIMENTAL)")
	return cmd
}

// imageRow is one line of images: an image under one of its names.
type imageRow struct {
	i                 image.Summary
	trunc             bool
	repo, tag, digest string
}

// imageRows are an image's lines: one per repository and tag (and
// digest, with --digests), or one "<none>" line.
func imageRows(img image.Summary, trunc, needDigest, showDigests bool) []*imageRow {
	dangling := (len(img.RepoTags) == 0 && len(img.RepoDigests) == 0) ||
		(len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" && len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>")
	if dangling {
		return []*imageRow{{i: img, trunc: trunc, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	var order []string
	tags := map[string][]string{}
	digests := map[string][]string{}
	for _, t := range img.RepoTags {
		r, err := ref.Parse(t)
		if err != nil || r.Tag() == "" {
			continue
		}
		name := strings.TrimSuffix(strings.Split(r.Familiar(), "@")[0], ":"+r.Tag())
		if _, ok := tags[name]; !ok {
			order = append(order, name)
		}
		tags[name] = append(tags[name], r.Tag())
	}
	var digestOrder []string
	for _, d := range img.RepoDigests {
		name, dg, ok := strings.Cut(d, "@")
		if !ok {
			continue
		}
		if r, err := ref.Parse(name); err == nil {
			name = strings.TrimSuffix(r.Familiar(), ":"+r.Tag())
		}
		if _, ok := digests[name]; !ok {
			digestOrder = append(digestOrder, name)
		}
		digests[name] = append(digests[name], dg)
	}
	var rows []*imageRow
	for _, repo := range order {
		ds := digests[repo]
		delete(digests, repo)
		if !needDigest {
			ds = nil
		}
		for _, tag := range tags[repo] {
			if len(ds) == 0 {
				rows = append(rows, &imageRow{i: img, trunc: trunc, repo: repo, tag: tag, digest: "<none>"})
				continue
			}
			for _, d := range ds {
				rows = append(rows, &imageRow{i: img, trunc: trunc, repo: repo, tag: tag, digest: d})
			}
		}
	}
	for _, repo := range digestOrder {
		ds, ok := digests[repo]
		if !ok {
			continue
		}
		if showDigests {
			for _, d := range ds {
				rows = append(rows, &imageRow{i: img, trunc: trunc, repo: repo, tag: "<none>", digest: d})
			}
		} else {
			rows = append(rows, &imageRow{i: img, trunc: trunc, repo: repo, tag: "<none>"})
		}
	}
	return rows
}

func (r *imageRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *imageRow) ID() string {
	if r.trunc {
		return truncateID(r.i.ID)
	}
	return r.i.ID
}

func (r *imageRow) Repository() string { return r.repo }
func (r *imageRow) Tag() string        { return r.tag }
func (r *imageRow) Digest() string     { return r.digest }

func (r *imageRow) CreatedSince() string {
	t := time.Unix(r.i.Created, 0)
	if t.IsZero() {
		return ""
	}
	return units.HumanDuration(time.Now().UTC().Sub(t)) + " ago"
}

func (r *imageRow) CreatedAt() string { return time.Unix(r.i.Created, 0).String() }
func (r *imageRow) Size() string      { return units.HumanSizeWithPrecision(float64(r.i.Size), 3) }

// VirtualSize is the size too: API 1.44 dropped the separate figure.
func (r *imageRow) VirtualSize() string { return units.HumanSize(float64(r.i.Size)) }

func (r *imageRow) Containers() string {
	if r.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.i.Containers, 10)
}

func (r *imageRow) SharedSize() string {
	if r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.SharedSize))
}

func (r *imageRow) UniqueSize() string {
	if r.i.Size == -1 || r.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.i.Size - r.i.SharedSize))
}

func (cl *cli) newTagCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  exactArgs(2),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			target := args[1]
			if strings.Contains(target, "@") {
				return errors.New("refusing to create a tag with a digest reference")
			}
			if _, err := ref.Parse(target); err != nil {
				return err
			}
			repo, tag := target, ""
			if i := strings.LastIndex(target, ":"); i > strings.LastIndex(target, "/") {
				repo, tag = target[:i], target[i+1:]
			}
			return c.ImageTag(cmd.Context(), args[0], repo, tag)
		}, offlineTag),
	}
}

func (cl *cli) newRmiCmd() *cobra.Command {
	var force, noPrune bool
	var u unsupported
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			var failed runErrors
			for _, name := range args {
				dels, err := c.ImageRemove(cmd.Context(), name, force, noPrune)
				if err != nil {
					failed.add(err)
					continue
				}
				for _, d := range dels {
					if d.Deleted != "" {
						fmt.Fprintf(out(cmd), "Deleted: %s\n", d.Deleted)
					} else {
						fmt.Fprintf(out(cmd), "Untagged: %s\n", d.Untagged)
					}
				}
			}
			return failed.err()
		}, offlineRmi, "force"),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Force removal of the image")
	fs.BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	u.add(fs, "platform", "", "strings", "Remove only the given platform variant")
	return cmd
}

func (cl *cli) newSaveCmd() *cobra.Command {
	var output, format string
	var u unsupported
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			switch format {
			case "docker", "docker-archive":
			case "oci", "oci-archive":
				return errors.New("--format oci is only supported with --data-root (the daemon writes docker archives, which hold an OCI layout too)")
			default:
				return fmt.Errorf("--format %q: must be docker or oci", format)
			}
			if output == "" {
				if _, ok := terminalFd(out(cmd)); ok {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			body, err := c.ImageSave(cmd.Context(), args)
			if err != nil {
				return err
			}
			defer body.Close()
			return writeTo(cmd, output, body, "save image")
		}, offlineSave, "output", "format"),
	}
	fs := cmd.Flags()
	fs.StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	fs.StringVar(&format, "format", "docker", "docker (docker save format, with an OCI layout inside) or oci (an OCI image layout; --data-root only)")
	u.add(fs, "platform", "", "string", "Save only the given platform variant")
	return cmd
}

func (cl *cli) newLoadCmd() *cobra.Command {
	var input string
	var quiet bool
	var u unsupported
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: imageVerb(func(cmd *cobra.Command, _ []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			var r io.Reader = cmd.InOrStdin()
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			} else if _, ok := terminalFd(r); ok {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			body, err := c.ImageLoad(cmd.Context(), r, quiet)
			if err != nil {
				return err
			}
			defer body.Close()
			w := out(cmd)
			if quiet {
				w = io.Discard
			}
			return displayStream(body, w, nil)
		}, offlineLoad, "input", "quiet"),
	}
	fs := cmd.Flags()
	fs.StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	u.add(fs, "platform", "", "string", "Load only the given platform variant")
	return cmd
}

func (cl *cli) newImportCmd() *cobra.Command {
	var message string
	var changes []string
	var u unsupported
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			src := args[0]
			if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
				return errors.New("importing from a URL is not supported by shoal yet")
			}
			repo, tag := "", ""
			if len(args) == 2 {
				if _, err := ref.Parse(args[1]); err != nil {
					return err
				}
				repo = args[1]
				if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
					repo, tag = repo[:i], repo[i+1:]
				}
			}
			var r io.Reader = cmd.InOrStdin()
			if src != "-" {
				f, err := os.Open(src)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			body, err := c.ImageImport(cmd.Context(), r, repo, tag, message, changes)
			if err != nil {
				return err
			}
			defer body.Close()
			return displayStream(body, out(cmd), nil)
		}, offlineImport, "message", "change"),
	}
	fs := cmd.Flags()
	fs.VarP(newList(&changes), "change", "c", "Apply Dockerfile instruction to the created image")
	fs.StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	u.add(fs, "platform", "", "string", "Set platform if server is multi-platform capable")
	return cmd
}

const (
	defaultHistoryTable  = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	nonHumanHistoryTable = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
)

var historyHeader = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

// historyRow is one history entry for history's templates.
type historyRow struct {
	h            image.HistoryResponseItem
	trunc, human bool
}

func (r *historyRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r *historyRow) ID() string {
	if r.trunc {
		return truncateID(r.h.ID)
	}
	return r.h.ID
}

func (r *historyRow) CreatedAt() string { return time.Unix(r.h.Created, 0).Format(time.RFC3339) }

func (r *historyRow) CreatedSince() string {
	if !r.human {
		return r.CreatedAt()
	}
	if r.h.Created <= time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() {
		return "N/A"
	}
	return units.HumanDuration(time.Now().UTC().Sub(time.Unix(r.h.Created, 0))) + " ago"
}

func (r *historyRow) CreatedBy() string {
	by := strings.ReplaceAll(r.h.CreatedBy, "\t", " ")
	if r.trunc {
		return ellipsis(by, 45)
	}
	return by
}

func (r *historyRow) Size() string {
	if r.human {
		return units.HumanSizeWithPrecision(float64(r.h.Size), 3)
	}
	return strconv.FormatInt(r.h.Size, 10)
}

func (r *historyRow) Comment() string { return r.h.Comment }

func (cl *cli) newHistoryCmd() *cobra.Command {
	var human, noTrunc, quiet bool
	var format string
	var u unsupported
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: imageVerb(func(cmd *cobra.Command, args []string) error {
			if err := u.check(cmd.Flags()); err != nil {
				return err
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			hist, err := c.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			l := lister{format: format, table: defaultHistoryTable, header: historyHeader}
			if !human {
				l.table = nonHumanHistoryTable
			}
			if quiet {
				l.quiet = "{{.ID}}"
			}
			rows := make([]any, len(hist))
			for i, h := range hist {
				rows[i] = &historyRow{h: h, trunc: !noTrunc, human: human}
			}
			return l.write(out(cmd), rows)
		}, offlineHistory, "no-trunc"),
	}
	fs := cmd.Flags()
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
	// Docker's -H shorthand is the root's --host here.
	fs.BoolVar(&human, "human", true, "Print sizes and dates in human readable format")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	u.add(fs, "platform", "", "string", "Show history for the given platform")
	return cmd
}

func (cl *cli) newImagePruneCmd() *cobra.Command {
	var all, force bool
	var filters filterFlag
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: imageVerb(func(cmd *cobra.Command, _ []string) error {
			c, err := cl.client()
			if err != nil {
				return err
			}
			f := map[string][]string{}
			for k, v := range filters.m {
				f[k] = v
			}
			f["dangling"] = []string{strconv.FormatBool(!all)}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !confirm(cmd, force, warning) {
				// docker 28 ends a declined prune quietly, with status 0.
				return nil
			}
			rep, err := c.ImagesPrune(cmd.Context(), f)
			if err != nil {
				return err
			}
			w := out(cmd)
			if len(rep.ImagesDeleted) > 0 {
				fmt.Fprintln(w, "Deleted Images:")
				for _, d := range rep.ImagesDeleted {
					if d.Untagged != "" {
						fmt.Fprintln(w, "untagged:", d.Untagged)
					} else {
						fmt.Fprintln(w, "deleted:", d.Deleted)
					}
				}
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "Total reclaimed space: %s\n", units.HumanSize(float64(rep.SpaceReclaimed)))
			return nil
		}, offlinePrune, "all", "force"),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	fs.Var(&filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}
