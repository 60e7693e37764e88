package stats

import (
	"math"
	"math/rand"
	"sort"
	"time"
)

// Summary describes a set of samples.
type Summary struct {
	Min, Median, P90, Max float64
	Mean                  float64
	// Stddev is the sample standard deviation (n-1 in the denominator),
	// 0 for a single sample.
	Stddev float64
}

// Summarize describes v, which must not be empty. It does not modify v.
func Summarize(v []float64) Summary {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var sq float64
	for _, x := range s {
		sq += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(s) > 1 {
		sd = math.Sqrt(sq / float64(len(s)-1))
	}
	return Summary{Min: s[0], Median: Median(s), P90: Quantile(s, 0.9), Max: s[len(s)-1], Mean: mean, Stddev: sd}
}

// Median is the middle sample of v, or the mean of the two middle ones;
// NaN for no samples. It does not modify v.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Quantile is the nearest-rank q-quantile (0 < q <= 1) of sorted, which
// must be sorted and not empty.
func Quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// BootstrapRatio is a percentile-bootstrap 95% interval for
// Median(a)/Median(b): rounds times it resamples a and b independently,
// with replacement, and takes the 2.5% and 97.5% quantiles of the ratios.
// The generator has a fixed seed.
func BootstrapRatio(a, b []float64, rounds int) (lo, hi float64) {
	rng := rand.New(rand.NewSource(1))
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	ratios := make([]float64, rounds)
	for i := range ratios {
		for j := range ra {
			ra[j] = a[rng.Intn(len(a))]
		}
		for j := range rb {
			rb[j] = b[rng.Intn(len(b))]
		}
		ratios[i] = Median(ra) / Median(rb)
	}
	sort.Float64s(ratios)
	return Quantile(ratios, 0.025), Quantile(ratios, 0.975)
}

// Millis is d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// MillisOf is every duration of ds in milliseconds.
func MillisOf(ds []time.Duration) []float64 {
	v := make([]float64, len(ds))
	for i, d := range ds {
		v[i] = Millis(d)
	}
	return v
}
