package stats

import (
	"math"
	"slices"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{7}, 7},
		{"odd unsorted", []float64{3, 1, 2}, 2},
		{"even unsorted", []float64{4, 1, 3, 2}, 2.5},
		{"duplicates", []float64{5, 5, 1, 5}, 5},
		{"negative", []float64{-1, -3, -2}, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			if got := Median(in); !near(got, tc.want) {
				t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("Median modified its input: %v, was %v", in, tc.in)
			}
		})
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

func TestQuantile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want float64
	}{
		{0, 1}, {0.025, 1}, {0.1, 1}, {0.11, 2}, {0.5, 5}, {0.9, 9}, {0.91, 10}, {0.975, 10}, {1, 10},
	} {
		if got := Quantile(s, tc.q); got != tc.want {
			t.Errorf("Quantile(1..10, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	// Nearest rank: with fewer than 10 samples p90 is the largest.
	if got := Quantile([]float64{1, 2, 3, 4, 5}, 0.9); got != 5 {
		t.Errorf("Quantile(1..5, 0.9) = %v, want 5", got)
	}
}

func TestSummarize(t *testing.T) {
	in := []float64{9, 2, 4, 4, 5, 4, 7, 5}
	orig := slices.Clone(in)
	s := Summarize(in)
	// Sum of squared deviations from the mean 5 is 32; 32/7 under the root.
	want := Summary{Min: 2, Median: 4.5, P90: 9, Max: 9, Mean: 5, Stddev: math.Sqrt(32.0 / 7)}
	if !near(s.Min, want.Min) || !near(s.Median, want.Median) || !near(s.P90, want.P90) ||
		!near(s.Max, want.Max) || !near(s.Mean, want.Mean) || !near(s.Stddev, want.Stddev) {
		t.Errorf("Summarize(%v) = %+v, want %+v", orig, s, want)
	}
	if !slices.Equal(in, orig) {
		t.Errorf("Summarize modified its input: %v", in)
	}
	if s := Summarize([]float64{3}); s != (Summary{Min: 3, Median: 3, P90: 3, Max: 3, Mean: 3}) {
		t.Errorf("Summarize([3]) = %+v, want all 3 and Stddev 0", s)
	}
}

func TestBootstrapRatio(t *testing.T) {
	t.Run("constant samples", func(t *testing.T) {
		lo, hi := BootstrapRatio([]float64{6, 6, 6}, []float64{3, 3}, 500)
		if lo != 2 || hi != 2 {
			t.Errorf("BootstrapRatio(6s, 3s) = [%v, %v], want [2, 2]", lo, hi)
		}
	})
	a := []float64{10, 12, 11, 30, 9, 10, 13}
	b := []float64{5, 6, 5, 7, 20, 5}
	lo, hi := BootstrapRatio(a, b, 2000)
	t.Run("brackets the ratio of medians", func(t *testing.T) {
		r := Median(a) / Median(b)
		if !(lo <= r && r <= hi) {
			t.Errorf("BootstrapRatio = [%v, %v], does not contain the ratio of medians %v", lo, hi, r)
		}
		if lo < 9.0/20 || hi > 30.0/5 {
			t.Errorf("BootstrapRatio = [%v, %v], outside [min(a)/max(b), max(a)/min(b)]", lo, hi)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		if lo2, hi2 := BootstrapRatio(a, b, 2000); lo2 != lo || hi2 != hi {
			t.Errorf("second BootstrapRatio = [%v, %v], first [%v, %v]", lo2, hi2, lo, hi)
		}
	})
	t.Run("golden", func(t *testing.T) {
		// The reports print these intervals: a change here changes
		// every CI a benchmark prints for the same samples.
		if !near(lo, 0.8) || !near(hi, 2.6) {
			t.Errorf("BootstrapRatio(a, b, 2000) = [%v, %v], want [0.8, 2.6] (as the benchmarks computed it before the refactor)", lo, hi)
		}
	})
}

func TestMillis(t *testing.T) {
	if got := Millis(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("Millis(1.5ms) = %v, want 1.5", got)
	}
	got := MillisOf([]time.Duration{time.Second, 250 * time.Microsecond, 0})
	if want := []float64{1000, 0.25, 0}; !slices.Equal(got, want) {
		t.Errorf("MillisOf = %v, want %v", got, want)
	}
}
