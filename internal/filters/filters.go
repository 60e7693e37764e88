package filters

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

// Args maps a filter key to a set of values. Build one with NewArgs or
// FromJSON; the zero Args is empty.
type Args struct {
	// fields[key][value] is true for a value that was sent; a value sent
	// as false in the current wire form is present but false.
	fields map[string]map[string]bool
}

// KeyValue is one key and value for NewArgs.
type KeyValue struct {
	Key   string
	Value string
}

// Arg returns the KeyValue key=value.
func Arg(key, value string) KeyValue { return KeyValue{Key: key, Value: value} }

// NewArgs returns the Args holding each of kv.
func NewArgs(kv ...KeyValue) Args {
	fields := make(map[string]map[string]bool, len(kv))
	for _, p := range kv {
		if fields[p.Key] == nil {
			fields[p.Key] = make(map[string]bool)
		}
		fields[p.Key][p.Value] = true
	}
	return Args{fields: fields}
}

// InvalidFilterError is Docker's "invalid filter" error: an unparsable
// filters parameter, an unknown key, or an unusable value. Its class is
// errdefs.ErrInvalidArgument and its message is dockerd's:
//
//	invalid filter             the parameter is not valid JSON of either form
//	invalid filter 'KEY'       KEY is not accepted here, or has no value
//	invalid filter 'KEY=[V…]'  the values of KEY are not usable
type InvalidFilterError struct {
	// Key is the offending key; empty when the whole parameter is bad.
	Key string
	// Values are the offending values, if they are the problem.
	Values []string

	cause error // the JSON decoding error, if any
}

func (e *InvalidFilterError) Error() string {
	if e.Key == "" {
		return "invalid filter"
	}
	if e.Values != nil {
		return fmt.Sprintf("invalid filter '%s=%s'", e.Key, e.Values)
	}
	return "invalid filter '" + e.Key + "'"
}

// Unwrap returns errdefs.ErrInvalidArgument and the underlying cause, if
// any.
func (e *InvalidFilterError) Unwrap() []error {
	if e.cause != nil {
		return []error{errdefs.ErrInvalidArgument, e.cause}
	}
	return []error{errdefs.ErrInvalidArgument}
}

// FromJSON decodes the filters query parameter. The empty string is an
// empty Args. Both the current form {"key":{"value":true}} and the legacy
// form {"key":["value"]} are accepted; anything else is an
// *InvalidFilterError ("invalid filter").
func FromJSON(s string) (Args, error) {
	if s == "" {
		return Args{}, nil
	}
	var current map[string]map[string]bool
	err := json.Unmarshal([]byte(s), &current)
	if err == nil {
		return Args{fields: current}, nil
	}
	var legacy map[string][]string
	if legacyErr := json.Unmarshal([]byte(s), &legacy); legacyErr != nil {
		return Args{}, &InvalidFilterError{cause: err}
	}
	fields := make(map[string]map[string]bool, len(legacy))
	for k, vs := range legacy {
		set := make(map[string]bool, len(vs))
		for _, v := range vs {
			set[v] = true
		}
		fields[k] = set
	}
	return Args{fields: fields}, nil
}

// ToJSON encodes a in the current wire form, {"key":{"value":true}}, with
// keys in sorted order. An empty Args encodes as "", as the docker client
// sends it (no parameter at all).
func (a Args) ToJSON() (string, error) {
	if len(a.fields) == 0 {
		return "", nil
	}
	b, err := json.Marshal(a.fields)
	if err != nil {
		return "", fmt.Errorf("encode filters: %w", err)
	}
	return string(b), nil
}

// Len returns the number of keys.
func (a Args) Len() int { return len(a.fields) }

// Keys returns the keys, sorted.
func (a Args) Keys() []string { return slices.Sorted(maps.Keys(a.fields)) }

// Get returns the values of key, sorted; an empty, non-nil slice if there
// are none.
func (a Args) Get(key string) []string {
	vs := slices.Sorted(maps.Keys(a.fields[key]))
	if vs == nil {
		return []string{}
	}
	return vs
}

// Contains reports whether key is present, with or without values.
func (a Args) Contains(key string) bool {
	_, ok := a.fields[key]
	return ok
}

// Validate returns an *InvalidFilterError ("invalid filter 'KEY'") for
// the first key, in sorted order, that accepted does not map to true.
func (a Args) Validate(accepted map[string]bool) error {
	for _, k := range a.Keys() {
		if !accepted[k] {
			return &InvalidFilterError{Key: k}
		}
	}
	return nil
}

// ExactMatch reports whether key has no values or value is one of them.
func (a Args) ExactMatch(key, value string) bool {
	set := a.fields[key]
	if len(set) == 0 {
		return true
	}
	return set[value]
}

// UniqueExactMatch reports whether key has no values, or exactly one,
// equal to value.
func (a Args) UniqueExactMatch(key, value string) bool {
	set := a.fields[key]
	switch len(set) {
	case 0:
		return true
	case 1:
		return set[value]
	default:
		return false
	}
}

// FuzzyMatch reports whether key has no values, or value equals one of
// them or starts with one of them.
func (a Args) FuzzyMatch(key, value string) bool {
	if a.ExactMatch(key, value) {
		return true
	}
	for prefix := range a.fields[key] {
		if strings.HasPrefix(value, prefix) {
			return true
		}
	}
	return false
}

// Match reports whether key has no values, or value equals one of them,
// or one of them, as an unanchored regular expression, matches value.
// Values that do not compile as regular expressions match only exactly.
func (a Args) Match(key, value string) bool {
	if a.ExactMatch(key, value) {
		return true
	}
	for pattern := range a.fields[key] {
		re, err := regexp.Compile(pattern)
		if err != nil {
			continue
		}
		if re.MatchString(value) {
			return true
		}
	}
	return false
}

// MatchKVList reports whether labels satisfy every value of key: "k"
// requires the label k to be present, "k=v" requires it to equal v (the
// value is everything after the first "="). A key with no values matches
// everything; any value fails on empty labels.
func (a Args) MatchKVList(key string, labels map[string]string) bool {
	set := a.fields[key]
	if len(set) == 0 {
		return true
	}
	if len(labels) == 0 {
		return false
	}
	for cond := range set {
		k, want, hasValue := strings.Cut(cond, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != want) {
			return false
		}
	}
	return true
}

// GetBoolOrDefault returns def if key is absent, and otherwise the
// boolean its values spell: "1" or "true", "0" or "false". A key with no
// values, with values that are neither, or with both a true and a false
// value is an *InvalidFilterError and returns def.
func (a Args) GetBoolOrDefault(key string, def bool) (bool, error) {
	set, ok := a.fields[key]
	if !ok {
		return def, nil
	}
	if len(set) == 0 {
		return def, &InvalidFilterError{Key: key}
	}
	isTrue := set["1"] || set["true"]
	isFalse := set["0"] || set["false"]
	if isTrue == isFalse {
		return def, &InvalidFilterError{Key: key, Values: a.Get(key)}
	}
	return isTrue, nil
}
