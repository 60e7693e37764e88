package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// timeError is a since/until parse failure: the docker CLI's message,
// class InvalidArgument.
type timeError struct {
	msg   string
	cause error
}

func (e *timeError) Error() string { return e.msg }

func (e *timeError) Unwrap() []error {
	if e.cause != nil {
		return []error{errdefs.ErrInvalidArgument, e.cause}
	}
	return []error{errdefs.ErrInvalidArgument}
}

// Layouts tried for timestamps, as the docker CLI does (moby's
// api/types/time): a value without a zone is read in now's location.
const (
	layoutLocal     = "2006-01-02T15:04:05"
	layoutNanoLocal = "2006-01-02T15:04:05.999999999"
	layoutDateZone  = "2006-01-02Z07:00"
	layoutDateLocal = "2006-01-02"
)

// ParseTime parses a since or until query value. The empty string is the
// zero time (no bound). Otherwise, in the order moby tries them:
//
//   - a Unix timestamp "SECONDS[.FRACTION]", what the docker CLI sends;
//     the fraction is read as decimal digits of a second, so ".5" is half
//     a second and digits past the ninth are dropped;
//   - a Go duration other than "0" ("10m", "1h30m"), meaning now minus it,
//     truncated to the second; the docker CLI converts these itself;
//   - an RFC 3339 timestamp or a shortening of one ("2006-01-02",
//     "2006-01-02T15:04", "2006-01-02T15:04:05.5Z", "…+01:00"); one
//     without a zone is in now's location.
//
// Anything else is an error of class errdefs.ErrInvalidArgument.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := parseUnix(s); ok {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && s != "0" {
		return time.Unix(now.Add(-d).Unix(), 0), nil
	}
	// dockerd parses in a fixed zone of now's offset; the location is
	// the same instant for now and right for other dates across DST.
	zoned := strings.ContainsAny(s, "zZ+") || strings.Count(s, "-") == 3
	var layout string
	switch {
	case strings.Contains(s, "."):
		layout = layoutNanoLocal
		if zoned {
			layout = time.RFC3339Nano
		}
	case strings.Contains(s, "T"):
		colons := strings.Count(s, ":")
		if zoned && !strings.ContainsAny(s, "zZ") && colons > 0 {
			colons-- // the one in the zone offset
		}
		layouts := [3]string{"2006-01-02T15", "2006-01-02T15:04", layoutLocal}
		if zoned {
			layouts = [3]string{"2006-01-02T15Z07:00", "2006-01-02T15:04Z07:00", time.RFC3339}
		}
		layout = layouts[min(colons, 2)]
	case zoned:
		layout = layoutDateZone
	default:
		layout = layoutDateLocal
	}
	var (
		t   time.Time
		err error
	)
	if zoned {
		t, err = time.Parse(layout, s)
	} else {
		t, err = time.ParseInLocation(layout, s, now.Location())
	}
	if err != nil {
		return time.Time{}, &timeError{msg: fmt.Sprintf("failed to parse value as time or duration: %q", s), cause: err}
	}
	return t, nil
}

// parseUnix parses "SECONDS[.FRACTION]" with decimal digits only (an
// optional leading "-" on the seconds).
func parseUnix(s string) (time.Time, bool) {
	secs, frac, hasFrac := strings.Cut(s, ".")
	if !digits(strings.TrimPrefix(secs, "-")) || (hasFrac && !digits(frac)) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var nsec int64
	if hasFrac {
		frac = (frac + "000000000")[:9]
		nsec, _ = strconv.ParseInt(frac, 10, 64) // nine digits: cannot fail
	}
	return time.Unix(sec, nsec), true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
