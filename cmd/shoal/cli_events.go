package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"
)

// rfc3339NanoFixed pads the nanoseconds, so every event's time has the
// same width.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

func (cl *cli) newEventsCmd() *cobra.Command {
	var since, until, format string
	var filters filterFlag
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tmpl, err := eventTemplate(format)
			if err != nil {
				return statusError{code: 64, msg: err.Error()}
			}
			c, err := cl.client()
			if err != nil {
				return err
			}
			body, err := c.Events(cmd.Context(), since, until, filters.m)
			if err != nil {
				return err
			}
			defer body.Close()
			dec := json.NewDecoder(body)
			for {
				var m events.Message
				if err := dec.Decode(&m); err != nil {
					if errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
						return nil
					}
					return err
				}
				if err := printEvent(out(cmd), m, tmpl); err != nil {
					return err
				}
			}
		},
	}
	fs := cmd.Flags()
	fs.VarP(&filters, "filter", "f", "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", "Format output using a custom template: 'json' or a Go template")
	fs.StringVar(&since, "since", "", "Show all events created since timestamp")
	fs.StringVar(&until, "until", "", "Stream events until this timestamp")
	return cmd
}

// eventTemplate is --format's template (nil for the default lines),
// checked on an empty event.
func eventTemplate(format string) (*template.Template, error) {
	switch format {
	case "":
		return nil, nil
	case "json":
		format = "{{json .}}"
	}
	tmpl, err := parseTemplate(format)
	if err != nil {
		return nil, err
	}
	return tmpl, tmpl.Execute(io.Discard, &events.Message{})
}

// printEvent prints one event: by the template, or as Docker's line
// "TIME TYPE ACTION ID (k=v, ...)".
func printEvent(w io.Writer, m events.Message, tmpl *template.Template) error {
	if tmpl != nil {
		err := tmpl.Execute(w, m)
		fmt.Fprintln(w)
		return err
	}
	var b strings.Builder
	if m.TimeNano != 0 {
		b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed) + " ")
	} else if m.Time != 0 {
		b.WriteString(time.Unix(m.Time, 0).Format(rfc3339NanoFixed) + " ")
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + m.Actor.Attributes[k]
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}
