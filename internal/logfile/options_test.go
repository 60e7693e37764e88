package logfile

import (
	"errors"
	"strconv"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestParseOptions(t *testing.T) {
	t.Parallel()
	valid := []struct {
		opts map[string]string
		want Options
	}{
		{nil, Options{MaxFiles: 1}},
		{map[string]string{"max-size": "10m"}, Options{MaxSize: 10_000_000, MaxFiles: 1}},
		{map[string]string{"max-size": "1k", "max-file": "3"}, Options{MaxSize: 1000, MaxFiles: 3}},
		// go-units decimal sizes, as Docker: KiB is 1000 too.
		{map[string]string{"max-size": "2KiB", "max-file": "1"}, Options{MaxSize: 2000, MaxFiles: 1}},
		{map[string]string{"max-size": "1.5g"}, Options{MaxSize: 1_500_000_000, MaxFiles: 1}},
		{map[string]string{"max-size": "123"}, Options{MaxSize: 123, MaxFiles: 1}},
		// As Docker: max-file without max-size is accepted, and unused.
		{map[string]string{"max-file": "5"}, Options{MaxFiles: 5}},
		{map[string]string{"max-size": "1m", "max-file": "2", "compress": "false"}, Options{MaxSize: 1_000_000, MaxFiles: 2}},
	}
	for _, c := range valid {
		got, err := ParseOptions(c.opts)
		if err != nil || got != c.want {
			t.Errorf("ParseOptions(%v) = %+v, %v, want %+v", c.opts, got, err, c.want)
		}
	}

	invalid := []struct {
		opts map[string]string
		msg  string
	}{
		{map[string]string{"max-size": "-1"}, "invalid size: '-1'"},
		{map[string]string{"max-size": "0"}, "max-size must be a positive number"},
		{map[string]string{"max-size": "10x"}, "invalid suffix: 'x'"},
		{map[string]string{"max-size": ""}, "invalid size: ''"},
		{map[string]string{"max-file": "0"}, "max-file cannot be less than 1"},
		{map[string]string{"max-file": "three"}, `strconv.Atoi: parsing "three": invalid syntax`},
		{map[string]string{"compress": "maybe"}, `strconv.ParseBool: parsing "maybe": invalid syntax`},
		{map[string]string{"compress": "true"}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{map[string]string{"compress": "true", "max-size": "1m", "max-file": "1"}, "compress cannot be true when max-file is less than 2 or max-size is not set"},
		{map[string]string{"compress": "true", "max-size": "1m", "max-file": "3"}, "log-opt compress=true is not supported by the json-file log driver"},
		{map[string]string{"labels": "a,b"}, "log-opt labels is not supported by the json-file log driver"},
		{map[string]string{"labels-regex": "^a"}, "log-opt labels-regex is not supported by the json-file log driver"},
		{map[string]string{"env": "PATH"}, "log-opt env is not supported by the json-file log driver"},
		{map[string]string{"env-regex": "^P"}, "log-opt env-regex is not supported by the json-file log driver"},
		{map[string]string{"tag": "{{.Name}}"}, "log-opt tag is not supported by the json-file log driver"},
		{map[string]string{"max-buffer-size": "1m"}, "unknown log opt 'max-buffer-size' for json-file log driver"},
		{map[string]string{"zzz": "1", "aaa": "2", "max-size": "1m"}, "unknown log opt 'aaa' for json-file log driver"},
		// Keys are checked before values.
		{map[string]string{"bogus": "", "max-size": "0"}, "unknown log opt 'bogus' for json-file log driver"},
	}
	for _, c := range invalid {
		_, err := ParseOptions(c.opts)
		if err == nil || err.Error() != c.msg || !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseOptions(%v) = %v, want invalid argument %q", c.opts, err, c.msg)
		}
	}

	// The parse error is kept for errors.Is.
	_, err := ParseOptions(map[string]string{"max-file": "x"})
	if !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("ParseOptions(max-file=x) = %v, want it to wrap strconv.ErrSyntax", err)
	}
}
