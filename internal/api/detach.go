package api

import "github.com/shoal-dev/shoal/internal/detach"

// parseDetachKeys reads the detachKeys parameter, with dockerd's error.
func parseDetachKeys(s string) ([]byte, error) {
	keys, err := detach.ParseKeys(s)
	if err != nil {
		return nil, invalidf("Invalid detach keys (%s) provided", s)
	}
	return keys, nil
}
