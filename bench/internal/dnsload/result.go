package dnsload

// Result is what one run of the DNS load generator prints. Latencies
// (P50, P90, P99, Max, Mean) are in microseconds, from the write of a
// query to the read of its answer, over the queries that got an answer
// with the right ID. Errors counts every query that did not get a NOERROR
// answer with at least one A record (Timeouts included); QPS is Count
// divided by the wall time of the run (WallS).
type Result struct {
	Name        string  `json:"name"`
	Server      string  `json:"server"`
	Count       int     `json:"count"`
	Concurrency int     `json:"concurrency"`
	Errors      int     `json:"errors"`
	Timeouts    int     `json:"timeouts"`
	P50         float64 `json:"p50"`
	P90         float64 `json:"p90"`
	P99         float64 `json:"p99"`
	Max         float64 `json:"max"`
	Mean        float64 `json:"mean"`
	QPS         float64 `json:"qps"`
	WallS       float64 `json:"wall_s"`
	// Answer is the first A record of the first answer.
	Answer string `json:"answer,omitempty"`
	// FirstError says why the first failed query failed.
	FirstError string `json:"first_error,omitempty"`
}
