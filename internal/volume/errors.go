package volume

import (
	"fmt"
	"strings"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// OpError is the error of a store operation on one volume. Its message is
// Docker's: "OP NAME: CAUSE", followed by " - [REF, ...]" when refs hold
// the volume ("remove v1: volume is in use - [c0ffee...]"). Its class is
// the cause's.
type OpError struct {
	Op   string   // "create", "get", "remove", ...
	Name string   // the volume name
	Err  error    // the cause
	Refs []string // holders of the volume, for "volume is in use"
}

func (e *OpError) Error() string {
	s := e.Op
	if e.Name != "" {
		s += " " + e.Name
	}
	s += ": " + e.Err.Error()
	if len(e.Refs) > 0 {
		s += " - [" + strings.Join(e.Refs, ", ") + "]"
	}
	return s
}

func (e *OpError) Unwrap() error { return e.Err }

// classError is an error with exactly the message given (Docker's
// wording) and the errdefs class class.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

func invalidf(format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: errdefs.ErrInvalidArgument}
}

var (
	errNoSuchVolume = &classError{msg: "no such volume", class: errdefs.ErrNotFound}
	errInUse        = &classError{msg: "volume is in use", class: errdefs.ErrConflict}
	errPruneRunning = &classError{msg: "a prune operation is already running", class: errdefs.ErrConflict}
)

// restrictedNameChars is Docker's names.RestrictedNameChars, quoted in
// the error for an invalid name.
const restrictedNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// ValidateName reports whether name is a valid local volume name, with
// Docker's rule ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ and Docker's messages. The
// error is of class errdefs.ErrInvalidArgument. The empty name, which
// Create turns into an anonymous volume, is not valid here.
func ValidateName(name string) error {
	if len(name) == 1 {
		return invalidf("volume name is too short, names should be at least two alphanumeric characters")
	}
	if !validName(name) {
		return invalidf("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, restrictedNameChars)
	}
	return nil
}

// validName implements ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ byte by byte.
func validName(name string) bool {
	if len(name) < 2 || !isAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
