package logfile

import (
	"fmt"
	"slices"
	"strconv"

	units "github.com/docker/go-units"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Options configure a Writer's rotation.
type Options struct {
	// MaxSize is the size in bytes a file may reach before it is rotated;
	// 0 means no rotation.
	MaxSize int64
	// MaxFiles is how many files are kept, the current one included; 0 is
	// taken as 1.
	MaxFiles int
}

// The json-file log options (docker run --log-opt).
const (
	OptMaxSize  = "max-size"
	OptMaxFile  = "max-file"
	OptCompress = "compress"
)

// Options Docker's json-file driver knows and Shoal does not implement.
var unsupportedOpts = []string{"labels", "labels-regex", "env", "env-regex", "tag"}

// ParseOptions reads the --log-opt values of the json-file driver: max-size
// (go-units decimal size, > 0), max-file (integer >= 1) and compress (a
// boolean; only false is supported). The errors are of class
// errdefs.ErrInvalidArgument, with Docker's messages where Docker has one.
// Keys are checked in sorted order, so the error for several bad keys is
// always the same.
func ParseOptions(opts map[string]string) (Options, error) {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case k == OptMaxSize, k == OptMaxFile, k == OptCompress:
		case slices.Contains(unsupportedOpts, k):
			return Options{}, invalid(nil, "log-opt %s is not supported by the json-file log driver", k)
		default:
			return Options{}, invalid(nil, "unknown log opt '%s' for json-file log driver", k)
		}
	}

	o := Options{MaxFiles: 1}
	if v, ok := opts[OptMaxSize]; ok {
		n, err := units.FromHumanSize(v)
		if err != nil {
			return Options{}, invalid(err, "%s", err)
		}
		if n <= 0 {
			return Options{}, invalid(nil, "max-size must be a positive number")
		}
		o.MaxSize = n
	}
	if v, ok := opts[OptMaxFile]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Options{}, invalid(err, "%s", err)
		}
		if n < 1 {
			return Options{}, invalid(nil, "max-file cannot be less than 1")
		}
		o.MaxFiles = n
	}
	if v, ok := opts[OptCompress]; ok {
		compress, err := strconv.ParseBool(v)
		if err != nil {
			return Options{}, invalid(err, "%s", err)
		}
		if compress {
			if o.MaxFiles == 1 || o.MaxSize == 0 {
				return Options{}, invalid(nil, "compress cannot be true when max-file is less than 2 or max-size is not set")
			}
			return Options{}, invalid(nil, "log-opt compress=true is not supported by the json-file log driver")
		}
	}
	return o, nil
}

// optError is an ErrInvalidArgument whose message is exactly msg (Docker's
// wording); cause, if any, is kept for errors.Is/As.
type optError struct {
	msg   string
	cause error
}

func (e *optError) Error() string { return e.msg }

func (e *optError) Unwrap() []error {
	if e.cause == nil {
		return []error{errdefs.ErrInvalidArgument}
	}
	return []error{errdefs.ErrInvalidArgument, e.cause}
}

func invalid(cause error, format string, args ...any) error {
	return &optError{msg: fmt.Sprintf(format, args...), cause: cause}
}
