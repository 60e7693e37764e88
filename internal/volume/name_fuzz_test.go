package volume

import (
	"path/filepath"
	"regexp"
	"testing"
)

// dockerNamePattern is Docker's names.RestrictedNamePattern, the oracle
// for validName.
var dockerNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "../x", "/abs", "a/b", "..", ".a", "a..", "vélo", "ab\n", "a\x00b", "Z9_.-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if want := dockerNamePattern.MatchString(name); (err == nil) != want {
			t.Fatalf("ValidateName(%q) = %v, want valid=%v", name, err, want)
		}
		if err != nil {
			return
		}
		// A valid name is one path element that stays below the root and
		// cannot collide with the store's own files.
		if filepath.Base(name) != name || name == "." || name == ".." || name[0] == '_' || filepath.Clean(name) != name {
			t.Fatalf("valid name %q is not a plain path element", name)
		}
		if filepath.Join("/root", name) != "/root/"+name {
			t.Fatalf("valid name %q escapes its directory", name)
		}
	})
}
