// Package stats summarises the samples of the benchmark programs in
// bench/: minimum, median, nearest-rank percentiles, mean, sample standard
// deviation, and a percentile-bootstrap confidence interval for a ratio of
// medians.
//
// Everything here is pure: no clock, no I/O. The bootstrap uses a fixed
// seed, so the same samples always give the same interval and two runs of
// a report over the same data print the same figures.
//
// Percentiles are nearest rank (the smallest sample with at least q of
// the samples at or below it), not interpolated: with few samples p90 is
// the largest of them, which is what the reports print as p90.
package stats
