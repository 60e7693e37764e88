package events

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"

	"github.com/shoal-dev/shoal/internal/errdefs"
	"github.com/shoal-dev/shoal/internal/filters"
)

const (
	// DefaultBuffer is the number of past messages dockerd keeps for
	// since/until queries.
	DefaultBuffer = 256
	// SubscriberBuffer is how far, in messages, a subscriber may fall
	// behind before it is dropped, unless WithSubscriberBuffer says
	// otherwise.
	SubscriberBuffer = 1024
	// LocalScope is the scope of messages of this engine; swarm events
	// would be "swarm".
	LocalScope = "local"
)

// ErrSlowSubscriber is wrapped by Subscription.Err when the subscriber fell
// too far behind and was dropped. Its class is errdefs.ErrUnavailable.
var ErrSlowSubscriber = fmt.Errorf("events subscriber fell behind: %w", errdefs.ErrUnavailable)

// Bus is the daemon's event bus. It is safe for concurrent use.
type Bus struct {
	subBuffer int

	mu     sync.Mutex
	ring   []events.Message // the last len(ring) <= cap(ring) messages
	next   int              // index of the oldest message once ring is full
	subs   map[*subscription]struct{}
	closed bool
}

// Option configures a Bus.
type Option func(*Bus)

// WithSubscriberBuffer sets how many messages a subscriber may have
// unread before it is dropped (n >= 1; default SubscriberBuffer).
func WithSubscriberBuffer(n int) Option {
	return func(b *Bus) {
		if n >= 1 {
			b.subBuffer = n
		}
	}
}

// New returns a Bus that keeps the last buffer messages for since/until
// queries (DefaultBuffer is Docker's choice; buffer < 0 means 0).
func New(buffer int, opts ...Option) *Bus {
	b := &Bus{
		subBuffer: SubscriberBuffer,
		ring:      make([]events.Message, 0, max(buffer, 0)),
		subs:      make(map[*subscription]struct{}),
	}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Publish records m and sends it to every subscriber whose filter and
// window it matches. A zero Time and TimeNano are filled from the clock
// (one from the other if only one is set) and an empty Scope becomes
// "local". Publish never blocks on a subscriber; one with a full channel
// is dropped (see Subscription.Err). After Close, Publish does nothing.
func (b *Bus) Publish(m events.Message) {
	switch {
	case m.Time == 0 && m.TimeNano == 0:
		now := time.Now()
		m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	case m.TimeNano == 0:
		m.TimeNano = m.Time * int64(time.Second)
	case m.Time == 0:
		m.Time = m.TimeNano / int64(time.Second)
	}
	if m.Scope == "" {
		m.Scope = LocalScope
	}
	m.Actor.Attributes = maps.Clone(m.Actor.Attributes)

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.record(m)
	for s := range b.subs {
		if !s.wants(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			s.err = fmt.Errorf("more than %d events unread: %w", cap(s.ch), ErrSlowSubscriber)
			b.dropLocked(s)
		}
	}
}

// record appends m to the ring, overwriting the oldest message when full.
func (b *Bus) record(m events.Message) {
	switch {
	case cap(b.ring) == 0:
	case len(b.ring) < cap(b.ring):
		b.ring = append(b.ring, m)
	default:
		b.ring[b.next] = m
		b.next = (b.next + 1) % len(b.ring)
	}
}

// Subscribe returns the buffered messages in [since, until] that match f,
// oldest first, and a Subscription carrying every later message in that
// window that matches f. A zero since or until leaves that end open; when
// both are zero, past is empty, as in dockerd. No message is both in past
// and on the channel, and none published meanwhile is missed.
//
// The caller must Close the Subscription. Subscribing to a closed Bus
// returns a Subscription whose channel is already closed.
func (b *Bus) Subscribe(since, until time.Time, f filters.Args) (past []events.Message, sub Subscription) {
	s := &subscription{bus: b, since: since, until: until, filter: f, ch: make(chan events.Message, b.subBuffer)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(s.ch)
		s.done = true
		return nil, s
	}
	if !since.IsZero() || !until.IsZero() {
		for i := range b.ring {
			m := b.ring[(b.next+i)%len(b.ring)]
			if s.wants(m) {
				past = append(past, m)
			}
		}
	}
	b.subs[s] = struct{}{}
	return past, s
}

// Close ends every subscription (their channels are closed and Err
// returns nil) and makes later Publish calls no-ops.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.dropLocked(s)
	}
}

// dropLocked removes s and closes its channel; b.mu must be held.
func (b *Bus) dropLocked(s *subscription) {
	delete(b.subs, s)
	if !s.done {
		s.done = true
		close(s.ch)
	}
}

// Subscription is a live stream of messages from a Bus.
type Subscription interface {
	// C returns the channel of messages. It is closed when the
	// subscription ends: by Close, by the Bus closing, or because the
	// subscriber fell behind.
	C() <-chan events.Message
	// Err returns why the Bus ended the subscription: an error wrapping
	// ErrSlowSubscriber if it fell behind, nil otherwise (still open,
	// closed by Close, or the Bus closed).
	Err() error
	// Close ends the subscription and closes the channel; messages still
	// buffered in it can be drained. It is idempotent.
	Close()
}

type subscription struct {
	bus          *Bus
	since, until time.Time
	filter       filters.Args
	ch           chan events.Message

	// Guarded by bus.mu.
	done bool
	err  error
}

func (s *subscription) C() <-chan events.Message { return s.ch }

func (s *subscription) Err() error {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.err
}

func (s *subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.bus.dropLocked(s)
}

// wants reports whether m is in s's window and matches its filter.
func (s *subscription) wants(m events.Message) bool {
	t := time.Unix(0, m.TimeNano)
	if !s.since.IsZero() && t.Before(s.since) {
		return false
	}
	if !s.until.IsZero() && t.After(s.until) {
		return false
	}
	return Match(s.filter, m)
}
