// Package webhooks delivers the events of the gap-free feed (internal/feed) to HTTP
// receivers: each subscription names a URL, the streams it wants and a shared secret, and
// keeps a checkpoint (a feed cursor) in its own row of the subscriptions table.
//
// Delivery is at least once and in order per stream: an event's checkpoint is stored only
// after the receiver answered 2xx, so a worker that dies mid-delivery leaves the checkpoint
// before the event and whoever takes the subscription over sends it again (with the same
// Buildledger-Delivery id, for receivers to drop duplicates). A failing event is retried
// with jittered, doubling waits and, after MaxFailures, the subscription is parked on it:
// it is never skipped. One worker at a time delivers a subscription, under a lease in its
// row; every checkpoint write is conditional on holding that lease.
//
// Subscriptions are configuration, not domain events: the CLI writes their rows directly.
package webhooks

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"buildledger/eventstore"
	"buildledger/internal/feed"
)

// Errors of the subscription store.
var (
	// ErrNotFound means no subscription has the name.
	ErrNotFound = errors.New("webhooks: no such subscription")
	// ErrExists means a subscription already has the name.
	ErrExists = errors.New("webhooks: subscription already exists")
	// ErrLeaseLost means the caller no longer holds the subscription's lease, or the
	// subscription was paused, resumed, replayed or removed meanwhile: it must stop
	// delivering and let the dispatcher read the subscription again.
	ErrLeaseLost = errors.New("webhooks: lease lost")
	// ErrInvalid means a subscription's fields are not acceptable.
	ErrInvalid = errors.New("webhooks: invalid subscription")
)

// State is what a subscription is doing.
type State string

// States of a subscription.
const (
	// StateActive subscriptions are delivered.
	StateActive State = "active"
	// StatePaused subscriptions are kept with their checkpoint but not delivered.
	StatePaused State = "paused"
	// StateParked subscriptions stopped on an event that failed MaxFailures times in a
	// row (ParkedKey); resume delivers that event again first.
	StateParked State = "parked"
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Subscription is one webhook and where its delivery stands.
type Subscription struct {
	// Name identifies the subscription (letters, digits, "_", ".", "-").
	Name string `json:"name"`
	// URL receives a POST per event.
	URL string `json:"url"`
	// Kinds are the stream kinds delivered ("lock", "repo", …); empty for every kind.
	Kinds []string `json:"kinds,omitempty"`
	// Streams is a path.Match pattern on stream ids ("lock:prod", "repo:acme/*"; "*"
	// does not cross "/"); empty for every stream.
	Streams string `json:"streams,omitempty"`
	// Secret is the shared secret of the HMAC signatures. The receiver holds the same
	// secret to verify them, so it is stored as given: anyone who reads the table can
	// sign as buildledger.
	Secret string `json:"-"`
	// State is active, paused or parked.
	State State `json:"state"`
	// Checkpoint is the feed cursor after the last event delivered (or skipped by the
	// filter); "" is the beginning of the feed.
	Checkpoint string `json:"checkpoint"`
	// Failures counts the consecutive failed attempts on the current event.
	Failures int `json:"failures"`
	// LastError is the last failure's description.
	LastError string `json:"lastError,omitempty"`
	// ParkedKey is the key of the event the subscription is parked on.
	ParkedKey string `json:"parkedKey,omitempty"`
	// LeaseOwner is the worker delivering the subscription, if any.
	LeaseOwner string `json:"leaseOwner,omitempty"`
	// LeaseUntil is when the lease ends unless renewed.
	LeaseUntil time.Time `json:"leaseUntil,omitempty"`
	// Generation grows at every operator change (pause, resume, replay); a delivery
	// loop's writes are conditional on the generation it read, so it never overwrites one.
	Generation int64 `json:"generation"`
	// CreatedAt is when the subscription was added.
	CreatedAt time.Time `json:"createdAt"`
}

// Validate reports every problem of a new subscription at once.
func (s Subscription) Validate() error {
	errs := []error{nameProblem(s.Name)}
	if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("%w: url %q is not an http(s) URL", ErrInvalid, s.URL))
	}
	if _, err := path.Match(s.Streams, ""); err != nil {
		errs = append(errs, fmt.Errorf("%w: streams pattern %q: %v", ErrInvalid, s.Streams, err))
	}
	if s.Secret == "" {
		errs = append(errs, fmt.Errorf("%w: the secret is empty", ErrInvalid))
	}
	for _, k := range s.Kinds {
		if k == "" || strings.Contains(k, ":") {
			errs = append(errs, fmt.Errorf("%w: kind %q", ErrInvalid, k))
		}
	}
	errs = append(errs, checkpointProblem(s.Checkpoint))
	return errors.Join(errs...)
}

// checkReplay reports the problems of a Replay's name and checkpoint, worded as Validate
// words them.
func checkReplay(name, checkpoint string) error {
	return errors.Join(nameProblem(name), checkpointProblem(checkpoint))
}

// nameProblem is the problem of a subscription name, or nil.
func nameProblem(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: name %q: use 1 to 128 letters, digits, '_', '.', '-'", ErrInvalid, name)
	}
	return nil
}

// checkpointProblem is the problem of a checkpoint that is not a feed cursor, or nil.
func checkpointProblem(checkpoint string) error {
	if _, err := feed.ParseCursor(checkpoint); err != nil {
		return fmt.Errorf("%w: checkpoint: %v", ErrInvalid, err)
	}
	return nil
}

// Filter is the feed filter of the subscription: its kinds and, for a pattern without
// wildcards, its one stream. Matches applies the rest of the pattern.
func (s Subscription) Filter() feed.Filter {
	f := feed.Filter{Kinds: s.Kinds}
	if s.Streams != "" && !strings.ContainsAny(s.Streams, `*?[\`) {
		f.Stream = s.Streams
	}
	return f
}

// Matches tells whether the subscription wants the events of stream.
func (s Subscription) Matches(stream string) bool {
	if !s.Filter().Matches(stream) {
		return false
	}
	if s.Streams == "" {
		return true
	}
	ok, _ := path.Match(s.Streams, stream)
	return ok
}

// Lag is how old the last delivered event is at now (0 before the first one): how far
// behind the present the receiver is, while events keep coming.
func (s Subscription) Lag(now time.Time) time.Duration {
	c, err := feed.ParseCursor(s.Checkpoint)
	if err != nil || c.Position == "" {
		return 0
	}
	at, err := eventstore.ParseKey(c.Position)
	if err != nil {
		return 0
	}
	return now.Sub(at).Round(time.Millisecond)
}

// CheckpointAt is the checkpoint that replays the events keyed from the time t on. It
// starts one millisecond early (the key format cannot name "just before t"), so a few
// events of that millisecond may come again: delivery is at least once anyway.
func CheckpointAt(t time.Time) string {
	return feed.Cursor{Position: eventstore.FirstKeyAt(t.UTC().Truncate(time.Millisecond).Add(-time.Millisecond))}.String()
}

// CheckpointBefore is the checkpoint that replays the events from the one keyed key on,
// that event included (see CheckpointAt).
func CheckpointBefore(key string) (string, error) {
	at, err := eventstore.ParseKey(key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return CheckpointAt(at), nil
}
