package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-dev/shoal/internal/client"
	"github.com/shoal-dev/shoal/internal/errdefs"
)

// getFunc fetches one object for inspect: its typed value and raw JSON.
type getFunc func(ctx context.Context, c *client.Client, ref string) (any, []byte, error)

func getContainer(ctx context.Context, c *client.Client, ref string) (any, []byte, error) {
	v, raw, err := c.ContainerInspect(ctx, ref)
	return v, raw, err
}

func getImage(ctx context.Context, c *client.Client, ref string) (any, []byte, error) {
	v, raw, err := c.ImageInspect(ctx, ref)
	return v, raw, err
}

func getVolume(ctx context.Context, c *client.Client, ref string) (any, []byte, error) {
	v, raw, err := c.VolumeInspect(ctx, ref)
	return v, raw, err
}

// inspectTypes are the object types inspect looks for, in its order.
var inspectTypes = []struct {
	name string
	get  getFunc
}{
	{"container", getContainer},
	{"image", getImage},
	{"network", getNetwork},
	{"volume", getVolume},
}

var allInspectTypes = []string{"config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"}

// runInspect renders the objects refs; errors are printed after the
// output, and make the exit code 1.
func (cl *cli) runInspect(cmd *cobra.Command, refs []string, format string, get getFunc) error {
	c, err := cl.client()
	if err != nil {
		return err
	}
	in, err := newInspector(format)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		v, raw, err := get(cmd.Context(), c, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := in.add(v, raw); err != nil {
			errs = append(errs, err)
		}
	}
	if err := in.flush(out(cmd)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (cl *cli) newInspectCmd() *cobra.Command {
	var format, typ string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Shoal objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("type") && typ == "" {
				return fmt.Errorf(`type is empty: must be one of "%s"`, strings.Join(allInspectTypes, `", "`))
			}
			known := false
			for _, t := range allInspectTypes {
				known = known || t == typ
			}
			if typ != "" && !known {
				return fmt.Errorf(`unknown type: %q: must be one of "%s"`, typ, strings.Join(allInspectTypes, `", "`))
			}
			if size {
				return errors.New("the --size flag is not supported by shoal yet")
			}
			get := func(ctx context.Context, c *client.Client, ref string) (any, []byte, error) {
				for _, t := range inspectTypes {
					if typ != "" && t.name != typ {
						continue
					}
					v, raw, err := t.get(ctx, c, ref)
					if err != nil {
						if typ == "" && (errdefs.IsNotFound(err) || strings.Contains(err.Error(), "invalid reference format")) {
							continue
						}
						return nil, nil, err
					}
					return v, raw, nil
				}
				return nil, nil, fmt.Errorf("Error: No such object: %s", ref)
			}
			return cl.runInspect(cmd, args, format, get)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	fs.StringVar(&typ, "type", "", "Only inspect objects of the given type")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

// newTypedInspectCmd is `container inspect`, `volume inspect`, ...
func (cl *cli) newTypedInspectCmd(use, short string, get getFunc) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cl.runInspect(cmd, args, format, get)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json' or a Go template")
	return cmd
}

func (cl *cli) newContainerInspectCmd() *cobra.Command {
	cmd := cl.newTypedInspectCmd("inspect [OPTIONS] CONTAINER [CONTAINER...]", "Display detailed information on one or more containers", getContainer)
	var u unsupported
	u.add(cmd.Flags(), "size", "s", "bool", "Display total file sizes")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := u.check(cmd.Flags()); err != nil {
			return err
		}
		return run(cmd, args)
	}
	return cmd
}
