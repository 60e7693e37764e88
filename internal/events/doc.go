// Package events is the daemon's event bus: what GET /events streams and
// what `docker events` prints.
//
// Components Publish an events.Message (the wire type of
// github.com/moby/moby/api/types/events) when something happens to a
// container, image, volume, network or the daemon. A Bus keeps the most
// recent messages (Docker keeps 256, DefaultBuffer) for ?since= and
// ?until= queries and fans each new message out to its subscribers.
//
// # Subscribing
//
// Subscribe returns, atomically, the buffered messages a request asks for
// ("past") and a Subscription whose channel carries every later message.
// Both are taken under the same lock Publish holds, so a message published
// concurrently with Subscribe is in exactly one of the two: never lost,
// never duplicated. Both are filtered with Match and limited to the
// window [since, until]. As in dockerd, past is empty when since and until
// are both zero (plain `docker events` shows only new events), and the
// buffer only reaches back DefaultBuffer messages.
//
// The caller (the API handler) still ends the stream itself: when until
// passes (a timer), when the client goes away, or when the channel is
// closed.
//
// # Slow subscribers
//
// Publish never blocks. Each subscription has a channel of
// SubscriberBuffer messages (see WithSubscriberBuffer); a subscriber that
// falls further behind than that is dropped: its channel is closed and
// Err returns an error wrapping ErrSlowSubscriber. dockerd instead waits
// up to 100ms per subscriber and then skips the message for it, silently
// losing events; dropping makes the loss visible and keeps Publish cheap.
//
// # Filters
//
// Match implements dockerd's event filters (daemon/events/filter.go); see
// its documentation for each key. ValidateFilters checks keys against the
// set documented for GET /events; dockerd itself accepts (and ignores)
// unknown keys, so callers wanting byte-for-byte compatibility may skip
// it.
//
// # Invariants
//
//   - Every message a Bus hands out has Time, TimeNano and Scope set
//     (Scope "local" unless the publisher set one).
//   - Messages are delivered to each subscriber in publication order; past
//     is in publication order too.
//   - Published messages are shared between subscribers: their
//     Actor.Attributes map must not be modified. Publish copies the map it
//     is given, so publishers may reuse theirs.
package events
