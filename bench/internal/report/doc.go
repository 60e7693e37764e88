// Package report holds what the benchmark programs in bench/ print about
// the conditions of a run (date, kernel, CPU, memory, load, file system
// types, tool versions, binary digests) and the small text helpers their
// reports share.
//
// Reading a fact never fails: what cannot be read is printed as "?" (or
// the reason), since a report of a finished run is worth more than a
// complete list of conditions.
package report
