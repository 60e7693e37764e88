package dnsload

import (
	"encoding/json"
	"testing"
)

// The example of bench/network/dnsload's doc comment.
const line = `{"name": "target.", "server": "127.0.0.11:53", "count": 20000,
 "concurrency": 1, "errors": 0, "timeouts": 0, "p50": 95.2,
 "p90": 130.1, "p99": 410.7, "max": 2210.4, "mean": 104.3,
 "qps": 9012.5, "wall_s": 2.219, "answer": "172.18.0.2"}`

func TestResultJSON(t *testing.T) {
	var r Result
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	want := Result{Name: "target.", Server: "127.0.0.11:53", Count: 20000, Concurrency: 1, P50: 95.2, P90: 130.1, P99: 410.7,
		Max: 2210.4, Mean: 104.3, QPS: 9012.5, WallS: 2.219, Answer: "172.18.0.2"}
	if r != want {
		t.Errorf("Unmarshal = %+v, want %+v", r, want)
	}
	b, err := json.Marshal(Result{Name: "x.", Errors: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"name":"x.","server":"","count":0,"concurrency":0,"errors":3,"timeouts":0,"p50":0,"p90":0,"p99":0,"max":0,"mean":0,"qps":0,"wall_s":0}` {
		t.Errorf("Marshal = %s (answer and first_error must be omitted when empty)", got)
	}
}
