// Command dnsload is the DNS load generator of bench/network. It runs
// inside a container: it sends -n queries (type A) for one name to the
// first nameserver in /etc/resolv.conf (or -server), -c of them in flight
// at a time (each worker has its own UDP socket and waits for its answer
// before it sends the next query), and prints one JSON object on stdout:
//
//	{"name": "target.", "server": "127.0.0.11:53", "count": 20000,
//	 "concurrency": 1, "errors": 0, "timeouts": 0, "p50": 95.2,
//	 "p90": 130.1, "p99": 410.7, "max": 2210.4, "mean": 104.3,
//	 "qps": 9012.5, "wall_s": 2.219, "answer": "172.18.0.2"}
//
// Latencies (p50, p90, p99, max, mean) are in microseconds, from the
// write of a query to the read of its answer, over the queries that got
// an answer with the right ID. errors counts every query that did not
// get a NOERROR answer with at least one A record (timeouts included);
// qps is the -n timed queries divided by the wall time of the run. -warmup
// queries are sent first, one at a time, and not counted. The exit status
// is 0 even with errors (the caller reads them from the JSON); 2 for bad
// usage or no resolver.
//
// Build it static, it runs in a busybox image:
//
//	CGO_ENABLED=0 go build -o dnsload ./bench/network/dnsload
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/shoal-dev/shoal/bench/internal/dnsload"
)

// result is what dnsload prints.
type result = dnsload.Result

func main() {
	name := flag.String("name", "", "name to look up (type A); required")
	n := flag.Int("n", 20000, "timed queries")
	conc := flag.Int("c", 1, "queries in flight at once (one UDP socket each)")
	warmup := flag.Int("warmup", 200, "untimed queries sent first, one at a time")
	timeout := flag.Duration("timeout", time.Second, "how long to wait for one answer")
	server := flag.String("server", "", "resolver HOST:PORT (default: the first nameserver in /etc/resolv.conf, port 53)")
	flag.Parse()
	if *name == "" || *n < 1 || *conc < 1 || *warmup < 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: dnsload -name NAME [-n 20000] [-c 1] [-warmup 200] [-timeout 1s] [-server HOST:PORT]")
		os.Exit(2)
	}
	if *server == "" {
		s, err := resolver("/etc/resolv.conf")
		if err != nil {
			fmt.Fprintln(os.Stderr, "dnsload:", err)
			os.Exit(2)
		}
		*server = s
	}
	res, err := run(*server, dns.Fqdn(*name), *n, *conc, *warmup, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnsload:", err)
		os.Exit(2)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// resolver returns the first nameserver of a resolv.conf as HOST:53.
func resolver(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read resolver configuration: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			return net.JoinHostPort(f[1], "53"), nil
		}
	}
	return "", fmt.Errorf("%s: no nameserver", path)
}

// worker is one UDP socket with its query template.
type worker struct {
	conn    *net.UDPConn
	query   []byte // packed query; bytes 0-1 are the ID
	buf     []byte
	timeout time.Duration
	id      uint16
}

func newWorker(server, name string, seed uint16, timeout time.Duration) (*worker, error) {
	addr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, fmt.Errorf("resolver address %q: %w", server, err)
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", server, err)
	}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.RecursionDesired = true
	q, err := m.Pack()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("pack query: %w", err)
	}
	return &worker{conn: conn, query: q, buf: make([]byte, 4096), timeout: timeout, id: seed}, nil
}

var errTimeout = errors.New("timeout")

// exchange sends one query and waits for the answer with its ID. It returns
// the time from write to read, the first A record and an error if the
// answer is missing or not a NOERROR answer with an A record.
func (w *worker) exchange() (time.Duration, string, error) {
	w.id++
	id := w.id
	w.query[0], w.query[1] = byte(id>>8), byte(id)
	t0 := time.Now()
	if _, err := w.conn.Write(w.query); err != nil {
		return 0, "", fmt.Errorf("send: %w", err)
	}
	deadline := t0.Add(w.timeout)
	if err := w.conn.SetReadDeadline(deadline); err != nil {
		return 0, "", err
	}
	for {
		k, err := w.conn.Read(w.buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, "", errTimeout
			}
			return 0, "", fmt.Errorf("receive: %w", err)
		}
		if k < 2 || uint16(w.buf[0])<<8|uint16(w.buf[1]) != id {
			continue // a late answer to an earlier query
		}
		d := time.Since(t0)
		var m dns.Msg
		if err := m.Unpack(w.buf[:k]); err != nil {
			return d, "", fmt.Errorf("unpack answer: %w", err)
		}
		if m.Rcode != dns.RcodeSuccess {
			return d, "", fmt.Errorf("answer: %s", dns.RcodeToString[m.Rcode])
		}
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok {
				return d, a.A.String(), nil
			}
		}
		return d, "", errors.New("answer without an A record")
	}
}

func run(server, name string, n, conc, warmup int, timeout time.Duration) (*result, error) {
	ws := make([]*worker, conc)
	for i := range ws {
		w, err := newWorker(server, name, uint16(i)<<12, timeout)
		if err != nil {
			return nil, err
		}
		defer w.conn.Close()
		ws[i] = w
	}
	res := &result{Name: name, Server: server, Count: n, Concurrency: conc}
	var mu sync.Mutex
	var firstErr error
	note := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
		}
	}
	for i := 0; i < warmup; i++ {
		if _, a, err := ws[0].exchange(); err != nil {
			note(fmt.Errorf("warm-up: %w", err))
		} else if res.Answer == "" {
			res.Answer = a
		}
	}

	lat := make([]float64, n) // µs; NaN for a query without an answer
	var next atomic.Int64
	var errs, timeouts atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, w := range ws {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				d, a, err := w.exchange()
				lat[i] = math.NaN()
				if d > 0 {
					lat[i] = float64(d) / float64(time.Microsecond)
				}
				if err != nil {
					errs.Add(1)
					if errors.Is(err, errTimeout) {
						timeouts.Add(1)
					}
					note(err)
					continue
				}
				if res.Answer == "" {
					mu.Lock()
					if res.Answer == "" {
						res.Answer = a
					}
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	wall := time.Since(t0)

	res.Errors, res.Timeouts = int(errs.Load()), int(timeouts.Load())
	res.WallS = wall.Seconds()
	res.QPS = float64(n) / wall.Seconds()
	var ok []float64
	var sum float64
	for _, v := range lat {
		if !math.IsNaN(v) {
			ok = append(ok, v)
			sum += v
		}
	}
	if len(ok) > 0 {
		sort.Float64s(ok)
		res.P50, res.P90, res.P99 = quantile(ok, 0.50), quantile(ok, 0.90), quantile(ok, 0.99)
		res.Max = ok[len(ok)-1]
		res.Mean = sum / float64(len(ok))
	}
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	return res, nil
}

// quantile of sorted s, nearest rank.
func quantile(s []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(s)))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}
