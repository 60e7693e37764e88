package build

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

// Dockerfile is a parsed Dockerfile: the ARGs before the first FROM and
// the stages.
type Dockerfile struct {
	MetaArgs []*Instruction
	Stages   []*Stage
	// Escape is the escape character (the "# escape=" directive).
	Escape rune
	// Warnings are the parser's (empty continuation lines).
	Warnings []string
}

// Stage is a FROM and the instructions up to the next one.
type Stage struct {
	// Name is the AS name, lower case; "" for an unnamed stage.
	Name string
	// Base and Platform are FROM's image and --platform, unexpanded.
	Base, Platform string
	// Original is the FROM line as written (the "Step" line shows it).
	Original     string
	Line         int
	Instructions []*Instruction
}

// Instruction is one instruction after parsing, before expansion.
type Instruction struct {
	// Cmd is the instruction's name in lower case ("copy").
	Cmd string
	// Original is the instruction as written, continuation lines joined.
	Original string
	Line     int
	// Args are the arguments; for ENV and LABEL (key, value, separator)
	// triples.
	Args []string
	// JSON says the arguments were given in exec (JSON) form.
	JSON bool
	// Flags are the --flags given; a repeatable flag's values are joined
	// by "\x00".
	Flags map[string]string
	// Trigger is ONBUILD's instruction text.
	Trigger string
	// Health is HEALTHCHECK's configuration.
	Health *dockerspec.HealthcheckConfig
}

// String is the instruction as the Step line prints it.
func (in *Instruction) String() string { return in.Original }

type flagKind int

const (
	flagString flagKind = iota
	flagBool
	flagStrings
)

// flagSpecs are the flags each instruction takes.
var flagSpecs = map[string]map[string]flagKind{
	"from": {"platform": flagString},
	"copy": {"from": flagString, "chown": flagString, "chmod": flagString, "link": flagBool, "parents": flagBool, "exclude": flagStrings},
	"add": {"chown": flagString, "chmod": flagString, "link": flagBool, "keep-git-dir": flagBool, "checksum": flagString,
		"unpack": flagBool, "exclude": flagStrings},
	"run": {"mount": flagStrings, "network": flagString, "security": flagString, "device": flagStrings},
	"healthcheck": {"interval": flagString, "timeout": flagString, "start-period": flagString, "start-interval": flagString,
		"retries": flagString},
}

// buildkitOnly are flags the classic builder refuses, by instruction.
var buildkitOnly = map[string][]string{
	"copy": {"parents", "exclude"},
	"add":  {"keep-git-dir", "checksum", "unpack", "exclude"},
	"run":  {"mount", "network", "security", "device"},
}

var knownInstructions = map[string]bool{
	"add": true, "arg": true, "cmd": true, "copy": true, "entrypoint": true, "env": true, "expose": true,
	"from": true, "healthcheck": true, "label": true, "maintainer": true, "onbuild": true, "run": true,
	"shell": true, "stopsignal": true, "user": true, "volume": true, "workdir": true,
}

// Parse parses a Dockerfile named name (for messages). Errors are
// ErrInvalidArgument and name the line, as Docker's do: "dockerfile parse
// error on line 3: unknown instruction: FOO".
func Parse(data []byte, name string) (*Dockerfile, error) {
	if len(data) == 0 {
		return nil, invalidf("the Dockerfile (%s) cannot be empty", name)
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, invalidf("failed to parse %s: %v", name, err)
	}
	df := &Dockerfile{Escape: res.EscapeToken}
	for _, w := range res.Warnings {
		df.Warnings = append(df.Warnings, w.Short)
	}
	names := map[string]bool{}
	for _, n := range res.AST.Children {
		in, err := parseInstruction(n)
		if err != nil {
			return nil, invalidf("dockerfile parse error on line %d: %v", n.StartLine, err)
		}
		if in.Cmd == "from" {
			st, err := newStage(in)
			if err != nil {
				return nil, invalidf("dockerfile parse error on line %d: %v", n.StartLine, err)
			}
			if st.Name != "" {
				if names[st.Name] {
					return nil, invalidf("dockerfile parse error on line %d: %s stage name already used", n.StartLine, st.Name)
				}
				names[st.Name] = true
			}
			df.Stages = append(df.Stages, st)
			continue
		}
		if len(df.Stages) == 0 {
			if in.Cmd == "arg" {
				df.MetaArgs = append(df.MetaArgs, in)
				continue
			}
			return nil, invalidf("no build stage in current context")
		}
		last := df.Stages[len(df.Stages)-1]
		last.Instructions = append(last.Instructions, in)
	}
	if len(df.Stages) == 0 {
		return nil, invalidf("no build stage in current context")
	}
	return df, nil
}

// ParseInstruction parses one instruction (an ONBUILD trigger).
func ParseInstruction(text string) (*Instruction, error) {
	res, err := parser.Parse(strings.NewReader(text))
	if err != nil {
		return nil, invalidf("%v", err)
	}
	if len(res.AST.Children) != 1 {
		return nil, invalidf("onbuild trigger should be a single expression")
	}
	return parseInstruction(res.AST.Children[0])
}

// nodeArgs flattens a node's arguments as BuildKit's instructions package
// does (an ONBUILD's sub-command becomes its name and arguments).
func nodeArgs(n *parser.Node) []string {
	var out []string
	for ; n.Next != nil; n = n.Next {
		a := n.Next
		switch len(a.Children) {
		case 0:
			out = append(out, a.Value)
		case 1:
			out = append(out, a.Children[0].Value)
			out = append(out, nodeArgs(a.Children[0])...)
		}
	}
	return out
}

var onbuildPrefix = regexp.MustCompile(`(?i)^\s*ONBUILD\s*`)

func parseInstruction(n *parser.Node) (*Instruction, error) {
	cmd := strings.ToLower(n.Value)
	if !knownInstructions[cmd] {
		return nil, fmt.Errorf("unknown instruction: %s", n.Value)
	}
	in := &Instruction{
		Cmd: cmd, Original: strings.TrimSpace(n.Original), Line: n.StartLine,
		Args: nodeArgs(n), JSON: n.Attributes["json"],
	}
	if len(n.Heredocs) > 0 {
		return nil, fmt.Errorf("heredocs are not supported by this builder (they require BuildKit)")
	}
	flags, err := parseFlags(cmd, n.Flags)
	if err != nil {
		return nil, err
	}
	in.Flags = flags
	for _, f := range buildkitOnly[cmd] {
		if _, ok := flags[f]; ok {
			return nil, fmt.Errorf("the --%s option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled", f)
		}
	}
	args := in.Args
	upper := strings.ToUpper(cmd)
	switch cmd {
	case "env", "label":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s requires at least one argument", upper)
		}
		if len(args)%3 != 0 {
			return nil, fmt.Errorf("Bad input to %s, too many arguments", upper)
		}
		for i := 0; i < len(args); i += 3 {
			if args[i] == "" {
				return nil, fmt.Errorf("%s names can not be blank", upper)
			}
		}
	case "maintainer", "workdir", "user", "stopsignal":
		if len(args) != 1 {
			return nil, fmt.Errorf("%s requires exactly one argument", upper)
		}
	case "add", "copy":
		if len(args) < 2 {
			return nil, fmt.Errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined", upper)
		}
	case "expose", "volume":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s requires at least one argument", upper)
		}
		if cmd == "volume" {
			for i, v := range args {
				v = strings.TrimSpace(v)
				if v == "" {
					return nil, fmt.Errorf("VOLUME specified can not be an empty string")
				}
				args[i] = v
			}
		}
	case "arg":
		if len(args) == 0 {
			return nil, fmt.Errorf("ARG requires at least one argument")
		}
		for _, a := range args {
			if k, _, _ := strings.Cut(a, "="); k == "" {
				return nil, fmt.Errorf("ARG names can not be blank")
			}
		}
	case "shell":
		if len(args) == 0 {
			return nil, fmt.Errorf("SHELL requires at least one argument")
		}
		if !in.JSON {
			return nil, fmt.Errorf("SHELL requires the arguments to be in JSON form")
		}
	case "onbuild":
		if len(args) == 0 {
			return nil, fmt.Errorf("ONBUILD requires at least one argument")
		}
		switch t := strings.ToUpper(strings.TrimSpace(args[0])); t {
		case "ONBUILD":
			return nil, fmt.Errorf("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "MAINTAINER", "FROM":
			return nil, fmt.Errorf("%s isn't allowed as an ONBUILD trigger", t)
		}
		in.Trigger = onbuildPrefix.ReplaceAllString(n.Original, "")
		// The trigger must itself parse.
		if _, err := ParseInstruction(in.Trigger); err != nil {
			return nil, err
		}
	case "healthcheck":
		h, err := parseHealthcheck(in)
		if err != nil {
			return nil, err
		}
		in.Health = h
	case "from":
		if len(args) != 1 && !(len(args) == 3 && strings.EqualFold(args[1], "as")) {
			return nil, fmt.Errorf("FROM requires either one or three arguments")
		}
	}
	return in, nil
}

// parseFlags checks the flags given to cmd, as BuildKit's BFlags does.
func parseFlags(cmd string, given []string) (map[string]string, error) {
	spec := flagSpecs[cmd]
	out := map[string]string{}
	for _, a := range given {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("arg should start with -- : %s", a)
		}
		name, value, hasValue := strings.Cut(a, "=")
		key := name[2:]
		kind, ok := spec[key]
		if !ok {
			return nil, fmt.Errorf("unknown flag: %s", name)
		}
		if _, dup := out[key]; dup && kind != flagStrings {
			return nil, fmt.Errorf("duplicate flag specified: %s", name)
		}
		switch kind {
		case flagBool:
			if hasValue && value == "" {
				return nil, fmt.Errorf("missing a value on flag: %s", name)
			}
			switch strings.ToLower(value) {
			case "", "true":
				out[key] = "true"
			case "false":
				out[key] = "false"
			default:
				return nil, fmt.Errorf("expecting boolean value for flag %s, not: %s", name, value)
			}
		case flagString:
			if !hasValue {
				return nil, fmt.Errorf("missing a value on flag: %s", name)
			}
			out[key] = value
		case flagStrings:
			if !hasValue {
				return nil, fmt.Errorf("missing a value on flag: %s", name)
			}
			if prev, ok := out[key]; ok {
				value = prev + "\x00" + value
			}
			out[key] = value
		}
	}
	return out, nil
}

var validStageName = regexp.MustCompile(`^[a-z][a-z0-9-_.]*$`)

func newStage(in *Instruction) (*Stage, error) {
	st := &Stage{Base: in.Args[0], Platform: in.Flags["platform"], Original: in.Original, Line: in.Line}
	if len(in.Args) == 3 {
		st.Name = strings.ToLower(in.Args[2])
		if !validStageName.MatchString(st.Name) {
			return nil, fmt.Errorf("invalid name for build stage: %q, name can't start with a number or contain symbols", in.Args[2])
		}
	}
	return st, nil
}

// jsonOrShell is the argument list of a RUN, CMD, ENTRYPOINT or
// HEALTHCHECK: as given in exec form, or the words joined into one
// command line in shell form.
func jsonOrShell(args []string, json bool) []string {
	if len(args) == 0 {
		return []string{}
	}
	if json {
		return args
	}
	return []string{strings.Join(args, " ")}
}

func parseHealthcheck(in *Instruction) (*dockerspec.HealthcheckConfig, error) {
	args := in.Args
	if len(args) == 0 {
		return nil, fmt.Errorf("HEALTHCHECK requires at least one argument")
	}
	typ := strings.ToUpper(args[0])
	rest := args[1:]
	if typ == "NONE" {
		if len(rest) != 0 {
			return nil, fmt.Errorf("HEALTHCHECK NONE takes no arguments")
		}
		return &dockerspec.HealthcheckConfig{Test: []string{"NONE"}}, nil
	}
	if typ != "CMD" {
		return nil, fmt.Errorf("Unknown type %q in HEALTHCHECK (try CMD)", typ)
	}
	cmd := jsonOrShell(rest, in.JSON)
	if len(cmd) == 0 {
		return nil, fmt.Errorf("Missing command after HEALTHCHECK CMD")
	}
	if !in.JSON {
		typ = "CMD-SHELL"
	}
	h := &dockerspec.HealthcheckConfig{Test: append([]string{typ}, cmd...)}
	for _, d := range []struct {
		flag string
		dst  *time.Duration
	}{{"interval", &h.Interval}, {"timeout", &h.Timeout}, {"start-period", &h.StartPeriod}, {"start-interval", &h.StartInterval}} {
		v := in.Flags[d.flag]
		if v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return nil, err
		}
		if dur != 0 && dur < time.Millisecond {
			return nil, fmt.Errorf("Interval %q cannot be less than %s", d.flag, time.Millisecond)
		}
		*d.dst = dur
	}
	if v := in.Flags["retries"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("--retries cannot be negative (%d)", n)
		}
		h.Retries = int(n)
	}
	return h, nil
}
