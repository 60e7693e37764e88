package api

import "testing"

func TestDetachKeysError(t *testing.T) {
	if _, err := parseDetachKeys("ctrl-1"); err == nil || err.Error() != "Invalid detach keys (ctrl-1) provided" {
		t.Errorf("parseDetachKeys(ctrl-1) = %v", err)
	}
	if k, err := parseDetachKeys(""); err != nil || string(k) != "\x10\x11" {
		t.Errorf("parseDetachKeys(\"\") = %q, %v", k, err)
	}
}
