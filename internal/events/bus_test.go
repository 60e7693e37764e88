package events

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/filters"
)

func msg(typ events.Type, id string, sec int64) events.Message {
	return events.Message{Type: typ, Action: events.ActionCreate, Actor: events.Actor{ID: id},
		TimeNano: sec * int64(time.Second)}
}

func ids(ms []events.Message) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Actor.ID)
	}
	return out
}

// receive reads n messages from sub, failing t after a second without one.
func receive(t *testing.T, sub Subscription, n int) []events.Message {
	t.Helper()
	var out []events.Message
	for len(out) < n {
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Fatalf("channel closed after %d of %d messages (err %v)", len(out), n, sub.Err())
			}
			out = append(out, m)
		case <-time.After(time.Second):
			t.Fatalf("received %d of %d messages, then nothing for a second", len(out), n)
		}
	}
	return out
}

// quiet fails t if sub has a message ready.
func quiet(t *testing.T, sub Subscription) {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		t.Fatalf("unexpected message %+v (open %v)", m, ok)
	default:
	}
}

func TestPublishSubscribe(t *testing.T) {
	t.Parallel()
	b := New(DefaultBuffer)
	defer b.Close()
	b.Publish(msg(events.ContainerEventType, "before", 0))

	past, sub := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())
	defer sub.Close()
	if len(past) != 0 {
		t.Errorf("Subscribe(no since, no until) past = %v, want none (dockerd sends no history)", ids(past))
	}
	attrs := map[string]string{"name": "web"}
	before := time.Now()
	for i := range 10 {
		m := events.Message{Type: events.ContainerEventType, Action: events.ActionStart,
			Actor: events.Actor{ID: fmt.Sprint(i), Attributes: attrs}}
		b.Publish(m)
	}
	after := time.Now()
	attrs["name"] = "changed" // the bus copied the map
	got := receive(t, sub, 10)
	for i, m := range got {
		if m.Actor.ID != fmt.Sprint(i) {
			t.Fatalf("message %d is %q, want %q (order %v)", i, m.Actor.ID, fmt.Sprint(i), ids(got))
		}
		if m.Scope != "local" {
			t.Errorf("message %d Scope = %q, want local", i, m.Scope)
		}
		if tm := time.Unix(0, m.TimeNano); tm.Before(before.Truncate(0)) || tm.After(after) || m.Time != tm.Unix() {
			t.Errorf("message %d Time, TimeNano = %d, %d; want now (%v..%v)", i, m.Time, m.TimeNano, before, after)
		}
		if m.Actor.Attributes["name"] != "web" {
			t.Errorf("message %d name = %q, want web: Publish must copy Attributes", i, m.Actor.Attributes["name"])
		}
	}
	quiet(t, sub)
}

func TestPublishFillsTime(t *testing.T) {
	t.Parallel()
	b := New(4)
	defer b.Close()
	_, sub := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())
	defer sub.Close()
	b.Publish(events.Message{Time: 100})
	b.Publish(events.Message{TimeNano: 200_500_000_000})
	b.Publish(events.Message{Time: 1, TimeNano: 7, Scope: "swarm"})
	got := receive(t, sub, 3)
	want := [][2]int64{{100, 100_000_000_000}, {200, 200_500_000_000}, {1, 7}}
	for i, m := range got {
		if m.Time != want[i][0] || m.TimeNano != want[i][1] {
			t.Errorf("message %d Time, TimeNano = %d, %d; want %d, %d", i, m.Time, m.TimeNano, want[i][0], want[i][1])
		}
	}
	if got[2].Scope != "swarm" {
		t.Errorf("Scope = %q, want the publisher's swarm", got[2].Scope)
	}
}

func TestSinceUntil(t *testing.T) {
	t.Parallel()
	b := New(5)
	defer b.Close()
	for i := int64(1); i <= 8; i++ {
		typ := events.ContainerEventType
		if i%2 == 0 {
			typ = events.ImageEventType
		}
		b.Publish(msg(typ, fmt.Sprint(i), i))
	}
	sec := func(s int64) time.Time { return time.Unix(s, 0) }
	tests := []struct {
		name         string
		since, until time.Time
		f            filters.Args
		want         []string
	}{
		{"neither", time.Time{}, time.Time{}, filters.NewArgs(), nil},
		{"since epoch: whole buffer", sec(0), time.Time{}, filters.NewArgs(), []string{"4", "5", "6", "7", "8"}},
		{"since inclusive", sec(6), time.Time{}, filters.NewArgs(), []string{"6", "7", "8"}},
		{"until only", time.Time{}, sec(5), filters.NewArgs(), []string{"4", "5"}},
		{"window inclusive", sec(5), sec(7), filters.NewArgs(), []string{"5", "6", "7"}},
		{"window nanoseconds", time.Unix(5, 1), time.Unix(6, 999999999), filters.NewArgs(), []string{"6"}},
		{"before the buffer", sec(1), sec(3), filters.NewArgs(), nil},
		{"filtered", sec(0), time.Time{}, filters.NewArgs(filters.Arg("type", "image")), []string{"4", "6", "8"}},
		{"future", sec(100), time.Time{}, filters.NewArgs(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			past, sub := b.Subscribe(tc.since, tc.until, tc.f)
			defer sub.Close()
			if got := ids(past); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("Subscribe(%v, %v) past = %v, want %v", tc.since, tc.until, got, tc.want)
			}
		})
	}

	// Live messages are held to the same window and filter.
	_, sub := b.Subscribe(sec(10), sec(20), filters.NewArgs(filters.Arg("type", "container")))
	defer sub.Close()
	b.Publish(msg(events.ContainerEventType, "early", 9))
	b.Publish(msg(events.ImageEventType, "image", 15))
	b.Publish(msg(events.ContainerEventType, "in", 15))
	b.Publish(msg(events.ContainerEventType, "late", 21))
	b.Publish(msg(events.ContainerEventType, "edge", 20))
	if got := ids(receive(t, sub, 2)); !slices.Equal(got, []string{"in", "edge"}) {
		t.Errorf("live = %v, want [in edge]", got)
	}
	quiet(t, sub)
}

func TestZeroBuffer(t *testing.T) {
	t.Parallel()
	b := New(0)
	defer b.Close()
	b.Publish(msg(events.ContainerEventType, "a", 1))
	past, sub := b.Subscribe(time.Unix(0, 0), time.Time{}, filters.NewArgs())
	defer sub.Close()
	if len(past) != 0 {
		t.Errorf("New(0): past = %v, want none", ids(past))
	}
	b.Publish(msg(events.ContainerEventType, "b", 2))
	if got := receive(t, sub, 1); got[0].Actor.ID != "b" {
		t.Errorf("live = %v, want [b]", ids(got))
	}
}

func TestSlowSubscriberDoesNotBlock(t *testing.T) {
	t.Parallel()
	const lag, total = 4, 200
	// No deferred Close here: if Publish wrongly blocks while holding the
	// bus lock, a deferred Close would hang the test instead of failing it.
	b := New(DefaultBuffer, WithSubscriberBuffer(lag))
	_, slow := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())
	// A subscriber whose filter skips every message never falls behind.
	_, idle := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs(filters.Arg("type", "volume")))
	_, fast := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())

	var fastGot []events.Message
	var wg sync.WaitGroup
	wg.Go(func() {
		for m := range fast.C() {
			fastGot = append(fastGot, m)
			if len(fastGot) == total {
				return
			}
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			b.Publish(msg(events.ContainerEventType, fmt.Sprint(i), 0))
			// Let the fast reader keep up; the slow one never reads.
			for len(fast.C()) >= lag-1 {
				time.Sleep(time.Microsecond)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	wg.Wait()
	if len(fastGot) != total {
		t.Errorf("fast subscriber got %d messages, want %d", len(fastGot), total)
	}

	// The slow subscriber got the first lag messages, then its channel
	// was closed.
	var slowGot []events.Message
	for m := range slow.C() {
		slowGot = append(slowGot, m)
	}
	if got := ids(slowGot); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Errorf("slow subscriber got %v, want the first %d", got, lag)
	}
	err := slow.Err()
	if !errors.Is(err, ErrSlowSubscriber) || !errdefs.IsUnavailable(err) {
		t.Errorf("slow.Err() = %v, want ErrSlowSubscriber (Unavailable)", err)
	}
	if fast.Err() != nil || idle.Err() != nil {
		t.Errorf("fast.Err(), idle.Err() = %v, %v; want nil", fast.Err(), idle.Err())
	}
	quiet(t, idle)
	slow.Close() // closing a dropped subscription is harmless
	idle.Close()
	fast.Close()
	b.Close()
}

func TestClose(t *testing.T) {
	t.Parallel()
	b := New(DefaultBuffer)
	_, a := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())
	_, c := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())
	b.Publish(msg(events.ContainerEventType, "x", 1))
	a.Close()
	a.Close()
	// Messages sent before Close can still be drained.
	if m, ok := <-a.C(); !ok || m.Actor.ID != "x" {
		t.Errorf("after Close, first read = %v, %v; want x, true", m.Actor.ID, ok)
	}
	if _, ok := <-a.C(); ok {
		t.Errorf("after Close, channel still open")
	}
	if a.Err() != nil {
		t.Errorf("Err() after Close = %v, want nil", a.Err())
	}
	b.Publish(msg(events.ContainerEventType, "y", 2)) // not sent to a

	b.Close()
	if got := ids(receive(t, c, 2)); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("c got %v, want [x y]", got)
	}
	if _, ok := <-c.C(); ok || c.Err() != nil {
		t.Errorf("after Bus.Close: open %v, Err %v; want closed, nil", ok, c.Err())
	}
	b.Publish(msg(events.ContainerEventType, "z", 3))
	past, d := b.Subscribe(time.Unix(0, 0), time.Time{}, filters.NewArgs())
	if _, ok := <-d.C(); ok || len(past) != 0 {
		t.Errorf("Subscribe after Close: past %v, open %v; want none, closed", ids(past), ok)
	}
	d.Close()
	c.Close()
	b.Close()
}

// TestConcurrentNoLossNoDuplicate races publishers against subscribers:
// every subscriber, whenever it subscribed, must see past followed by live
// messages as exactly the sequence a subscriber present from the start
// saw, with no message lost or repeated at the seam.
func TestConcurrentNoLossNoDuplicate(t *testing.T) {
	t.Parallel()
	const publishers, perPublisher, subscribers = 8, 300, 24
	const total = publishers * perPublisher
	b := New(total, WithSubscriberBuffer(total))
	defer b.Close()
	since := time.Unix(0, 1) // non-zero: ask for the whole buffer
	onlyContainers := filters.NewArgs(filters.Arg("type", "container"))

	_, ref := b.Subscribe(time.Time{}, time.Time{}, filters.NewArgs())
	defer ref.Close()

	type result struct {
		filtered bool
		seen     []string
	}
	results := make([]result, subscribers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for p := range publishers {
		wg.Go(func() {
			<-start
			for i := range perPublisher {
				typ := events.ContainerEventType
				if i%3 == 0 {
					typ = events.NetworkEventType
				}
				b.Publish(events.Message{Type: typ, Action: events.ActionCreate,
					Actor: events.Actor{ID: fmt.Sprintf("p%d-%d", p, i)}})
				if rand.IntN(16) == 0 {
					time.Sleep(time.Duration(rand.IntN(50)) * time.Microsecond)
				}
			}
		})
	}
	for s := range subscribers {
		wg.Go(func() {
			<-start
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
			f := filters.NewArgs()
			if s%2 == 1 {
				f = onlyContainers
			}
			past, sub := b.Subscribe(since, time.Time{}, f)
			defer sub.Close()
			seen := ids(past)
			want := total
			if s%2 == 1 {
				want = total - publishers*((perPublisher+2)/3)
			}
			timeout := time.After(5 * time.Second)
			for len(seen) < want {
				select {
				case m, ok := <-sub.C():
					if !ok {
						t.Errorf("subscriber %d: channel closed: %v", s, sub.Err())
						return
					}
					seen = append(seen, m.Actor.ID)
				case <-timeout:
					t.Errorf("subscriber %d: saw %d of %d messages", s, len(seen), want)
					return
				}
			}
			results[s] = result{filtered: s%2 == 1, seen: seen}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}

	all := ids(receive(t, ref, total))
	var containers []string
	for _, id := range all {
		var p, i int
		if _, err := fmt.Sscanf(id, "p%d-%d", &p, &i); err != nil {
			t.Fatalf("bad id %q", id)
		}
		if i%3 != 0 {
			containers = append(containers, id)
		}
	}
	if n := len(uniq(all)); n != total {
		t.Fatalf("reference subscriber saw %d distinct of %d messages", n, total)
	}
	for s, r := range results {
		want := all
		if r.filtered {
			want = containers
		}
		if !slices.Equal(r.seen, want) {
			t.Errorf("subscriber %d (filtered %v) saw %d messages (%d distinct), want %d in publication order",
				s, r.filtered, len(r.seen), len(uniq(r.seen)), len(want))
		}
	}
}

func uniq(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}
