package events

import (
	"testing"
	"time"

	"github.com/shoal-dev/shoal/internal/errdefs"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("X", 2*3600)
	now := time.Date(2024, 5, 6, 7, 8, 9, 500, zone)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.123", time.Unix(1700000000, 123000000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"1700000000.1234567891", time.Unix(1700000000, 123456789)},
		{"1700000000.5", time.Unix(1700000000, 500000000)},
		{"0", time.Unix(0, 0)},
		{"-1", time.Unix(-1, 0)},
		{"10m", time.Unix(now.Add(-10*time.Minute).Unix(), 0)},
		{"1h30m", time.Unix(now.Add(-90*time.Minute).Unix(), 0)},
		{"-5m", time.Unix(now.Add(5*time.Minute).Unix(), 0)},
		{"2006-01-02T15:04:05Z", time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"2006-01-02T15:04:05.5Z", time.Date(2006, 1, 2, 15, 4, 5, 500000000, time.UTC)},
		{"2006-01-02T15:04:05+01:00", time.Date(2006, 1, 2, 14, 4, 5, 0, time.UTC)},
		{"2006-01-02T15:04:05-07:00", time.Date(2006, 1, 2, 22, 4, 5, 0, time.UTC)},
		{"2006-01-02T15:04Z", time.Date(2006, 1, 2, 15, 4, 0, 0, time.UTC)},
		{"2006-01-02T15+03:00", time.Date(2006, 1, 2, 12, 0, 0, 0, time.UTC)},
		{"2006-01-02Z", time.Date(2006, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2006-01-02+02:00", time.Date(2006, 1, 1, 22, 0, 0, 0, time.UTC)},
		{"2006-01-02", time.Date(2006, 1, 2, 0, 0, 0, 0, zone)},
		{"2006-01-02T15", time.Date(2006, 1, 2, 15, 0, 0, 0, zone)},
		{"2006-01-02T15:04", time.Date(2006, 1, 2, 15, 4, 0, 0, zone)},
		{"2006-01-02T15:04:05", time.Date(2006, 1, 2, 15, 4, 5, 0, zone)},
		{"2006-01-02T15:04:05.25", time.Date(2006, 1, 2, 15, 4, 5, 250000000, zone)},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in, now)
		if err != nil {
			t.Errorf("ParseTime(%q) error = %v, want %v", tc.in, err, tc.want)
			continue
		}
		if !got.Equal(tc.want) || got.IsZero() != tc.want.IsZero() {
			t.Errorf("ParseTime(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseTimeInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"abc", "1.2.3", "1700000000.", ".5", "1e9", " 1", "1700000000.-5", "1700000000.+5",
		"+-1", "10x", "2006-13-01", "2006-01-02T25:00:00Z", "2006-01-02 15:04:05", "99999999999999999999",
	} {
		_, err := ParseTime(in, time.Now())
		if err == nil {
			t.Errorf("ParseTime(%q) error = nil, want an error", in)
			continue
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("ParseTime(%q) error %v is not ErrInvalidArgument", in, err)
		}
	}
	_, err := ParseTime("abc", time.Now())
	if want := `failed to parse value as time or duration: "abc"`; err == nil || err.Error() != want {
		t.Errorf("ParseTime(abc) error = %v, want %q", err, want)
	}
}
