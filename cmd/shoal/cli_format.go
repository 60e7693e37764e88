package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// --format, as the docker CLI reads it:
//
//	""/"table"      the verb's default table
//	"table TMPL"    TMPL as a table: a header row of column names, then
//	                one row per object, aligned on tabs
//	"json"          one JSON object per line ({{json .}})
//	TMPL            TMPL once per object, each followed by a newline
//
// In TMPL the escapes \t and \n stand for a tab and a newline. The
// functions are Docker's: json, split, join, title, lower, upper, pad,
// truncate.

// templateFuncs are the functions of every template.
var templateFuncs = template.FuncMap{
	"json":     formatJSON,
	"split":    strings.Split,
	"join":     joinElements,
	"title":    titleCase,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      padWithSpace,
	"truncate": truncateWithLength,
}

// headerFuncs replace the functions for a table's header row, so a
// column's name comes out as it is.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

func formatJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // text/template turns it into an execution error
	}
	return strings.TrimSpace(b.String())
}

func titleCase(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		defer func() { prev = r }()
		if unicode.IsSpace(prev) || prev == '-' || prev == '_' {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

func padWithSpace(s string, prefix, suffix int) string {
	if s == "" {
		return s
	}
	return strings.Repeat(" ", prefix) + s + strings.Repeat(" ", suffix)
}

func truncateWithLength(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

func joinElements(elems any, sep string) (string, error) {
	if elems == nil {
		return "", nil
	}
	if ss, ok := elems.([]string); ok {
		return strings.Join(ss, sep), nil
	}
	switch rv := reflect.ValueOf(elems); rv.Kind() {
	case reflect.Array, reflect.Slice:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(rv.Index(i).Interface())
		}
		return strings.Join(parts, sep), nil
	case reflect.Map:
		var parts []string
		for _, k := range rv.MapKeys() {
			parts = append(parts, fmt.Sprint(rv.MapIndex(k).Interface()))
		}
		sort.Strings(parts)
		return strings.Join(parts, sep), nil
	default:
		return "", fmt.Errorf("expected slice, got %T", elems)
	}
}

// lister renders a list of objects by --format.
type lister struct {
	// format is the user's --format.
	format string
	// table is the verb's default table format ("table {{.ID}}\t...").
	table string
	// quiet is the format of -q ("{{.ID}}"), "" without -q; it wins
	// over format unless format is a custom template.
	quiet string
	// header names each field's column.
	header map[string]string
}

// templateText is the format as a template: escapes replaced, the table
// prefix taken off.
func (l lister) templateText() (text string, table bool) {
	f := l.format
	switch {
	case l.quiet != "" && (f == "" || strings.HasPrefix(f, "table") || f == "json"):
		return l.quiet, false
	case f == "" || f == "table":
		f = l.table
	case f == "json":
		return "{{json .}}", false
	}
	if after, ok := strings.CutPrefix(f, "table"); ok {
		f, table = after, true
	}
	f = strings.Trim(f, " ")
	f = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(f)
	return f, table
}

// write renders rows (each a value whose methods are the template's
// fields) to w.
func (l lister) write(w io.Writer, rows []any) error {
	text, table := l.templateText()
	tmpl, err := parseTemplate(text)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, r := range rows {
		if err := tmpl.Execute(&buf, r); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		buf.WriteByte('\n')
	}
	if !table {
		_, err := buf.WriteTo(w)
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	hdr, err := template.New("").Funcs(templateFuncs).Funcs(headerFuncs).Parse(text)
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	// Header fields that are methods with arguments (.Label "x") have no
	// header: they print nothing there.
	_ = hdr.Execute(tw, headerMap(l.header))
	_, _ = tw.Write([]byte{'\n'})
	_, _ = buf.WriteTo(tw)
	return tw.Flush()
}

// headerMap is what the header row's template runs on: each field's
// column name.
type headerMap map[string]string

// marshalMethods is the JSON of a row: every exported method without
// arguments and with one result, by name, as Docker's formatter does.
func marshalMethods(x any) ([]byte, error) {
	v := reflect.ValueOf(x)
	t := v.Type()
	m := map[string]any{}
	for i := range t.NumMethod() {
		meth := t.Method(i)
		if meth.Name == "MarshalJSON" || !meth.IsExported() {
			continue
		}
		fv := v.Method(i)
		if fv.Type().NumIn() != 0 || fv.Type().NumOut() != 1 {
			continue
		}
		m[meth.Name] = fv.Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}

// truncateID is the 12-character short form of an ID, without its
// algorithm.
func truncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// ellipsis shortens s to n runes, the last one "…".
func ellipsis(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	if n == 1 {
		return string(rs[0])
	}
	return string(rs[:n-1]) + "…"
}

// inspector renders `inspect` output as the docker CLI does: without a
// format, the objects' JSON as one indented array; with -f json, the same
// compact; with a template, the template once per object, on the typed
// value first and on its raw JSON if that fails (a field the wire type
// lacks).
type inspector struct {
	tmpl *template.Template
	mode string // "indent", "json" or "template"
	raws [][]byte
	buf  bytes.Buffer
}

func newInspector(format string) (*inspector, error) {
	switch format {
	case "":
		return &inspector{mode: "indent"}, nil
	case "json":
		return &inspector{mode: "json"}, nil
	}
	tmpl, err := parseTemplate(strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format))
	if err != nil {
		return nil, statusError{code: 64, msg: err.Error()}
	}
	return &inspector{tmpl: tmpl, mode: "template"}, nil
}

// add renders one object.
func (in *inspector) add(typed any, raw []byte) error {
	if in.mode != "template" {
		in.raws = append(in.raws, raw)
		return nil
	}
	var buf bytes.Buffer
	if err := in.tmpl.Execute(&buf, typed); err != nil {
		if raw == nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		buf.Reset()
		var m any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("unable to read inspect data: %w", err)
		}
		if err := in.tmpl.Option("missingkey=error").Execute(&buf, m); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	in.buf.Write(buf.Bytes())
	in.buf.WriteByte('\n')
	return nil
}

// flush writes what was rendered.
func (in *inspector) flush(w io.Writer) error {
	if in.mode == "template" {
		if in.buf.Len() == 0 {
			_, err := io.WriteString(w, "\n")
			return err
		}
		_, err := in.buf.WriteTo(w)
		return err
	}
	if len(in.raws) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	all := []byte("[" + string(bytes.Join(in.raws, []byte(","))) + "]")
	var b bytes.Buffer
	var err error
	if in.mode == "json" {
		err = json.Compact(&b, all)
	} else {
		err = json.Indent(&b, all, "", "    ")
	}
	if err != nil {
		return fmt.Errorf("format inspect output: %w", err)
	}
	b.WriteByte('\n')
	_, err = b.WriteTo(w)
	return err
}
