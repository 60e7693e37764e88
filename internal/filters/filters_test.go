package filters

import (
	"errors"
	"slices"
	"testing"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestFromJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string][]string
	}{
		{"empty string", ``, map[string][]string{}},
		{"empty object", `{}`, map[string][]string{}},
		{"null", `null`, map[string][]string{}},
		{"current", `{"label":{"a=b":true,"c":true},"status":{"running":true}}`,
			map[string][]string{"label": {"a=b", "c"}, "status": {"running"}}},
		{"legacy", `{"label":["a=b","c"],"status":["running"]}`,
			map[string][]string{"label": {"a=b", "c"}, "status": {"running"}}},
		{"legacy duplicate values", `{"name":["x","x"]}`, map[string][]string{"name": {"x"}}},
		{"current key without values", `{"name":{}}`, map[string][]string{"name": {}}},
		{"legacy key without values", `{"name":[]}`, map[string][]string{"name": {}}},
		{"null values", `{"name":null}`, map[string][]string{"name": {}}},
		{"whitespace", " {\"a\" : { \"b\" : true } } ", map[string][]string{"a": {"b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := FromJSON(tc.in)
			if err != nil {
				t.Fatalf("FromJSON(%q) error = %v, want nil", tc.in, err)
			}
			if a.Len() != len(tc.want) {
				t.Errorf("FromJSON(%q).Len() = %d, want %d", tc.in, a.Len(), len(tc.want))
			}
			for k, vs := range tc.want {
				if !a.Contains(k) {
					t.Errorf("FromJSON(%q).Contains(%q) = false, want true", tc.in, k)
				}
				if got := a.Get(k); !slices.Equal(got, vs) {
					t.Errorf("FromJSON(%q).Get(%q) = %q, want %q", tc.in, k, got, vs)
				}
			}
		})
	}
}

func TestFromJSONInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`{`, `[]`, `"label"`, `1`, `true`, `{"a":"b"}`, `{"a":1}`,
		`{"a":{"b":"true"}}`, `{"a":[1]}`, `{"a":{"b":true},"c":["d"]}`,
		`{"a":[["b"]]}`, `label=a`, `{"a":{"b":true}}x`,
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			_, err := FromJSON(in)
			if err == nil {
				t.Fatalf("FromJSON(%q) error = nil, want invalid filter", in)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("FromJSON(%q) error %v is not ErrInvalidArgument", in, err)
			}
			var ife *InvalidFilterError
			if !errors.As(err, &ife) {
				t.Errorf("FromJSON(%q) error %T is not *InvalidFilterError", in, err)
			}
			if err.Error() != "invalid filter" {
				t.Errorf("FromJSON(%q) error = %q, want %q", in, err.Error(), "invalid filter")
			}
		})
	}
}

func TestToJSON(t *testing.T) {
	t.Parallel()
	if s, err := (Args{}).ToJSON(); err != nil || s != "" {
		t.Errorf("Args{}.ToJSON() = %q, %v; want \"\", nil", s, err)
	}
	if s, err := NewArgs().ToJSON(); err != nil || s != "" {
		t.Errorf("NewArgs().ToJSON() = %q, %v; want \"\", nil", s, err)
	}
	a := NewArgs(Arg("status", "running"), Arg("label", "c"), Arg("label", "a=b"))
	s, err := a.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"label":{"a=b":true,"c":true},"status":{"running":true}}`
	if s != want {
		t.Errorf("ToJSON() = %s, want %s", s, want)
	}
	// Legacy input comes back in the current form.
	legacy, err := FromJSON(`{"label":["c","a=b"],"status":["running"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := legacy.ToJSON(); s != want {
		t.Errorf("FromJSON(legacy).ToJSON() = %s, want %s", s, want)
	}
}

func TestKeysGetContains(t *testing.T) {
	t.Parallel()
	a := NewArgs(Arg("b", "2"), Arg("a", "y"), Arg("a", "x"), Arg("b", "2"))
	if got, want := a.Keys(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Keys() = %q, want %q", got, want)
	}
	if got, want := a.Get("a"), []string{"x", "y"}; !slices.Equal(got, want) {
		t.Errorf("Get(a) = %q, want %q", got, want)
	}
	if got := a.Get("missing"); got == nil || len(got) != 0 {
		t.Errorf("Get(missing) = %#v, want empty non-nil slice", got)
	}
	if a.Len() != 2 || !a.Contains("a") || a.Contains("c") {
		t.Errorf("Len() = %d, Contains(a) = %v, Contains(c) = %v; want 2, true, false", a.Len(), a.Contains("a"), a.Contains("c"))
	}
	// Get returns a copy: changing it does not change a.
	got := a.Get("a")
	got[0] = "changed"
	if a.Get("a")[0] != "x" {
		t.Errorf("Get result aliases Args")
	}
	var zero Args
	if zero.Len() != 0 || zero.Contains("a") || len(zero.Keys()) != 0 || !zero.ExactMatch("a", "b") {
		t.Errorf("zero Args is not empty")
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	accepted := map[string]bool{"label": true, "name": true, "off": false}
	tests := []struct {
		in      Args
		wantErr string
	}{
		{NewArgs(), ""},
		{NewArgs(Arg("label", "a"), Arg("name", "x")), ""},
		{NewArgs(Arg("label", "a"), Arg("status", "x")), "invalid filter 'status'"},
		{NewArgs(Arg("zzz", "a"), Arg("bogus", "x")), "invalid filter 'bogus'"},
		{NewArgs(Arg("off", "a")), "invalid filter 'off'"},
	}
	for _, tc := range tests {
		err := tc.in.Validate(accepted)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("Validate(%v) = %v, want nil", tc.in.Keys(), err)
			}
			continue
		}
		if err == nil || err.Error() != tc.wantErr {
			t.Errorf("Validate(%v) = %v, want %q", tc.in.Keys(), err, tc.wantErr)
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("Validate(%v) error %v is not ErrInvalidArgument", tc.in.Keys(), err)
		}
	}
}

func mustJSON(t *testing.T, s string) Args {
	t.Helper()
	a, err := FromJSON(s)
	if err != nil {
		t.Fatalf("FromJSON(%q) = %v", s, err)
	}
	return a
}

func TestMatchers(t *testing.T) {
	t.Parallel()
	type matcher func(Args, string, string) bool
	exact := matcher(Args.ExactMatch)
	unique := matcher(Args.UniqueExactMatch)
	fuzzy := matcher(Args.FuzzyMatch)
	match := matcher(Args.Match)
	none := NewArgs()
	empty := mustJSON(t, `{"name":{}}`)
	one := NewArgs(Arg("name", "web"))
	two := NewArgs(Arg("name", "web"), Arg("name", "db"))
	re := NewArgs(Arg("name", "^w.b$"))
	bad := NewArgs(Arg("name", "a("))
	falsy := mustJSON(t, `{"name":{"web":false}}`)

	tests := []struct {
		name  string
		m     matcher
		args  Args
		value string
		want  bool
	}{
		{"exact absent", exact, none, "x", true},
		{"exact no values", exact, empty, "x", true},
		{"exact equal", exact, one, "web", true},
		{"exact prefix", exact, one, "web-1", false},
		{"exact other key", exact, NewArgs(Arg("id", "x")), "web", true},
		{"exact one of two", exact, two, "db", true},
		{"exact none of two", exact, two, "cache", false},
		{"exact false value", exact, falsy, "web", false},

		{"unique absent", unique, none, "x", true},
		{"unique equal", unique, one, "web", true},
		{"unique other", unique, one, "db", false},
		{"unique two values", unique, two, "web", false},

		{"fuzzy absent", fuzzy, none, "x", true},
		{"fuzzy equal", fuzzy, one, "web", true},
		{"fuzzy prefix", fuzzy, one, "web-1", true},
		{"fuzzy infix", fuzzy, one, "my-web", false},
		{"fuzzy shorter", fuzzy, one, "we", false},

		{"match absent", match, none, "x", true},
		{"match equal", match, one, "web", true},
		{"match substring", match, one, "my-web-1", true},
		{"match no", match, one, "db", false},
		{"match regexp", match, re, "wab", true},
		{"match regexp anchored", match, re, "wabc", false},
		{"match bad regexp exact", match, bad, "a(", true},
		{"match bad regexp no", match, bad, "xa(x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.m(tc.args, "name", tc.value); got != tc.want {
				t.Errorf("match(%v, name, %q) = %v, want %v", tc.args.Get("name"), tc.value, got, tc.want)
			}
		})
	}
}

func TestMatchKVList(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"a": "1", "b": "", "c": "x=y"}
	tests := []struct {
		name   string
		values []string
		labels map[string]string
		want   bool
	}{
		{"no filter", nil, labels, true},
		{"no filter no labels", nil, nil, true},
		{"present", []string{"a"}, labels, true},
		{"absent", []string{"z"}, labels, false},
		{"equal", []string{"a=1"}, labels, true},
		{"not equal", []string{"a=2"}, labels, false},
		{"empty value", []string{"b="}, labels, true},
		{"empty value mismatch", []string{"a="}, labels, false},
		{"value with equals", []string{"c=x=y"}, labels, true},
		{"all must hold", []string{"a=1", "b"}, labels, true},
		{"one fails", []string{"a=1", "z"}, labels, false},
		{"no labels", []string{"a"}, nil, false},
		{"not-equal syntax is a key", []string{"a!=2"}, labels, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var kv []KeyValue
			for _, v := range tc.values {
				kv = append(kv, Arg("label", v))
			}
			if got := NewArgs(kv...).MatchKVList("label", tc.labels); got != tc.want {
				t.Errorf("MatchKVList(%q, %v) = %v, want %v", tc.values, tc.labels, got, tc.want)
			}
		})
	}
	// An empty value set matches even empty labels.
	if !mustJSON(t, `{"label":[]}`).MatchKVList("label", nil) {
		t.Errorf("MatchKVList with no values on nil labels = false, want true")
	}
}

func TestGetBoolOrDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		def     bool
		want    bool
		wantErr string
	}{
		{``, true, true, ""},
		{`{"other":["x"]}`, false, false, ""},
		{`{"dangling":["true"]}`, false, true, ""},
		{`{"dangling":["1"]}`, false, true, ""},
		{`{"dangling":["false"]}`, true, false, ""},
		{`{"dangling":["0"]}`, true, false, ""},
		{`{"dangling":["true","1"]}`, false, true, ""},
		{`{"dangling":{"true":true}}`, false, true, ""},
		{`{"dangling":{"true":false}}`, true, true, "invalid filter 'dangling=[true]'"},
		{`{"dangling":["true","false"]}`, true, true, "invalid filter 'dangling=[false true]'"},
		{`{"dangling":["yes"]}`, false, false, "invalid filter 'dangling=[yes]'"},
		{`{"dangling":["TRUE"]}`, false, false, "invalid filter 'dangling=[TRUE]'"},
		{`{"dangling":[]}`, true, true, "invalid filter 'dangling'"},
	}
	for _, tc := range tests {
		a := mustJSON(t, tc.in)
		got, err := a.GetBoolOrDefault("dangling", tc.def)
		if tc.wantErr == "" {
			if err != nil || got != tc.want {
				t.Errorf("GetBoolOrDefault(%s, %v) = %v, %v; want %v, nil", tc.in, tc.def, got, err, tc.want)
			}
			continue
		}
		if err == nil || err.Error() != tc.wantErr || !errdefs.IsInvalidArgument(err) {
			t.Errorf("GetBoolOrDefault(%s, %v) error = %v, want %q (InvalidArgument)", tc.in, tc.def, err, tc.wantErr)
		}
		if got != tc.want {
			t.Errorf("GetBoolOrDefault(%s, %v) = %v on error, want the default %v", tc.in, tc.def, got, tc.want)
		}
	}
}
