package build

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, df, want string
	}{
		{"empty", "", "the Dockerfile (Dockerfile) cannot be empty"},
		{"comments only", "# nothing\n", "failed to parse Dockerfile: file with no instructions"},
		{"unknown instruction", "FROM bb\nRUN true\nFOO bar\n", "dockerfile parse error on line 3: unknown instruction: FOO"},
		{"unknown instruction continued", "FROM bb\nRUN a \\\n  b\nBAR x\n", "dockerfile parse error on line 4: unknown instruction: BAR"},
		{"no from", "RUN true\n", "no build stage in current context"},
		{"from args", "FROM a b\n", "dockerfile parse error on line 1: FROM requires either one or three arguments"},
		{"stage name", "FROM bb AS 1x\n", `dockerfile parse error on line 1: invalid name for build stage: "1x", name can't start with a number or contain symbols`},
		{"stage twice", "FROM bb AS a\nFROM bb AS a\n", "dockerfile parse error on line 2: a stage name already used"},
		{"copy one arg", "FROM bb\nCOPY x\n", "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"},
		{"unknown flag", "FROM bb\nCOPY --nope=1 a b\n", "dockerfile parse error on line 2: unknown flag: --nope"},
		{"flag without value", "FROM bb\nCOPY --from a b\n", "dockerfile parse error on line 2: missing a value on flag: --from"},
		{"buildkit flag", "FROM bb\nRUN --mount=type=cache,target=/x true\n", "dockerfile parse error on line 2: the --mount option requires BuildKit."},
		{"shell not json", "FROM bb\nSHELL /bin/bash -c\n", "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"},
		{"onbuild onbuild", "FROM bb\nONBUILD ONBUILD RUN x\n", "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"onbuild from", "FROM bb\nONBUILD FROM x\n", "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"},
		{"env blank", "FROM bb\nENV =x\n", "dockerfile parse error on line 2: ENV names can not be blank"},
		{"healthcheck type", "FROM bb\nHEALTHCHECK FOO x\n", `dockerfile parse error on line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)`},
		{"healthcheck retries", "FROM bb\nHEALTHCHECK --retries=-1 CMD x\n", "dockerfile parse error on line 2: --retries cannot be negative (-1)"},
		{"heredoc", "FROM bb\nRUN <<EOF\necho\nEOF\n", "dockerfile parse error on line 2: heredocs are not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.df), "Dockerfile")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Parse(%q) = %v, want %q", tc.df, err, tc.want)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("Parse(%q): error %v is not ErrInvalidArgument", tc.df, err)
			}
		})
	}
}

func TestParseStages(t *testing.T) {
	t.Parallel()
	df, err := Parse([]byte(`# escape=`+"`"+`
ARG BASE=bb
ARG X
FROM ${BASE} AS Build
ENV A=1 B="two words"
ENV C 3
LABEL "k"="v" x=y
COPY --from=build --chown=1:2 a b /dest/
RUN ["echo", "hi"]
RUN echo `+"`"+`
  continued
HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/
ONBUILD RUN echo trig
from bb
CMD echo done
`), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if df.Escape != '`' {
		t.Errorf("escape = %q", df.Escape)
	}
	if len(df.MetaArgs) != 2 || df.MetaArgs[0].Original != "ARG BASE=bb" {
		t.Fatalf("meta args = %+v", df.MetaArgs)
	}
	if len(df.Stages) != 2 {
		t.Fatalf("%d stages", len(df.Stages))
	}
	st := df.Stages[0]
	if st.Name != "build" || st.Base != "${BASE}" || st.Line != 4 {
		t.Errorf("stage 0 = %+v", st)
	}
	ins := st.Instructions
	if got := strings.Join(ins[0].Args, "|"); got != `A|1|=|B|"two words"|=` {
		t.Errorf("ENV args = %q", got)
	}
	if got := strings.Join(ins[1].Args, "|"); got != "C|3|" {
		t.Errorf("legacy ENV args = %q", got)
	}
	if ins[3].Flags["from"] != "build" || ins[3].Flags["chown"] != "1:2" || len(ins[3].Args) != 3 {
		t.Errorf("COPY = %+v", ins[3])
	}
	if !ins[4].JSON || strings.Join(ins[4].Args, " ") != "echo hi" {
		t.Errorf("exec RUN = %+v", ins[4])
	}
	if ins[5].JSON || ins[5].Original != "RUN echo   continued" {
		t.Errorf("shell RUN = %+v (%q)", ins[5], ins[5].Original)
	}
	h := ins[6].Health
	if h == nil || h.Interval != 5*time.Second || h.Retries != 3 || strings.Join(h.Test, "|") != "CMD-SHELL|curl -f http://x/" {
		t.Errorf("HEALTHCHECK = %+v", h)
	}
	if ins[7].Trigger != "RUN echo trig" {
		t.Errorf("ONBUILD trigger = %q", ins[7].Trigger)
	}
	if df.Stages[1].Name != "" || df.Stages[1].Instructions[0].Cmd != "cmd" {
		t.Errorf("stage 1 = %+v", df.Stages[1])
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM bb\nRUN echo hi\n", "FROM a AS b\nCOPY --from=b x y\n", "ARG X\nFROM $X\nENV A=$X\n",
		"FROM bb\nHEALTHCHECK --interval=1s CMD true\n", "FROM bb\nONBUILD ADD . /\n", "# escape=`\nFROM x\nRUN a `\n b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		df, err := Parse(data, "Dockerfile")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Parse error %v is not ErrInvalidArgument", err)
			}
			return
		}
		if len(df.Stages) == 0 {
			t.Fatal("Parse succeeded without a stage")
		}
	})
}
