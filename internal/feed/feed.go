// Package feed follows the event store's global, time-ordered log (eventstore.Store.ReadAll)
// without gaps or repeats, each stream in version order, also near the present and with
// several workers whose clocks differ.
//
// Two windows make it so. A reader reads only up to a high-water mark, the present minus
// Settle: an event is keyed by its appending worker's clock, and reaches the time index
// after commit latency and index propagation, so an event keyed before the mark but not yet
// visible would otherwise be skipped for good. Settle must cover commit latency, index
// propagation and the clock offset a worker may have (handlers refuse to append when theirs
// is off by more: see internal/clockcheck). Because keys come from different clocks, a
// stream's next version can carry an earlier key than the one before it; a reader therefore
// holds each event for Reorder (twice the largest offset a worker may have) and sends a
// stream's earlier versions first. The Cursor of each event says exactly what was sent, so
// that a follower resumes from it with nothing lost or repeated.
package feed

import (
	"context"
	"time"

	"buildledger/eventstore"
	"buildledger/internal/settings"
)

// Defaults of Config. They suit workers that refuse to append with a clock off by more than
// one second (the default --clock-tolerance): a worker's keys are then at most two seconds
// off (the tolerance plus the second of the Date headers its offset is measured with).
const (
	// DefaultSettle is how far behind the present a reader stays.
	DefaultSettle = 3 * time.Second
	// DefaultReorder is how long an event is held for a stream's earlier versions.
	DefaultReorder = 4 * time.Second
	// DefaultPollInterval is how often a follower asks the store for new events.
	DefaultPollInterval = 500 * time.Millisecond
	// DefaultPageSize is the limit of each ReadAll.
	DefaultPageSize = 500
)

// Source is the part of the event store a reader reads.
type Source interface {
	// ReadAll returns up to limit events of every stream in key order, after the key after.
	ReadAll(ctx context.Context, after string, limit int) (eventstore.Page, error)
}

// Config configures a Reader.
type Config struct {
	// Events is the store the feed reads; required.
	Events Source
	// Now is the reader's clock; default time.Now.
	Now func() time.Time
	// Settle is how far behind the present the reader stays: the high-water mark; default
	// DefaultSettle. It must cover commit latency, index propagation and the clock offset
	// the workers tolerate.
	Settle time.Duration
	// Reorder is how long an event is held so that its stream's earlier versions, keyed
	// later by a slower clock, are sent before it; default DefaultReorder. It must be at
	// least twice the largest clock offset a worker may append with.
	Reorder time.Duration
	// PollInterval is how often Follow reads new events; default DefaultPollInterval.
	PollInterval time.Duration
	// PageSize is the limit of each ReadAll; default DefaultPageSize.
	PageSize int
}

func (c *Config) setDefaults() {
	settings.DefaultFunc(&c.Now, time.Now)
	settings.Default(&c.Settle, DefaultSettle)
	settings.Default(&c.Reorder, DefaultReorder)
	settings.Default(&c.PollInterval, DefaultPollInterval)
	settings.Default(&c.PageSize, DefaultPageSize)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := settings.Prefixed("feed: config")
	p.If(c.Events == nil, "Events is nil")
	settings.NotNegative(p, "Settle", c.Settle)
	settings.NotNegative(p, "Reorder", c.Reorder)
	settings.Positive(p, "PollInterval", c.PollInterval)
	settings.AtLeast(p, "PageSize", c.PageSize, 1)
	return p.Err()
}

// Item is one event of the feed and the cursor that resumes right after it.
type Item struct {
	// Record is the event.
	Record eventstore.Record
	// Cursor resumes the feed after Record (and after every event sent before it).
	Cursor Cursor
}

// Reader reads the feed. It is safe for concurrent use; each Follow or Read keeps its own
// position.
type Reader struct {
	cfg Config
}

// New returns a Reader for a validated configuration.
func New(cfg Config) (*Reader, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reader{cfg: cfg}, nil
}

// Config returns the reader's configuration, defaults included.
func (r *Reader) Config() Config { return r.cfg }

// Follow calls fn with every event after from that f selects, in feed order, until ctx ends
// (it then returns ctx's error) or fn or the store fails. Feed order is key order, except
// that a stream's earlier versions come before its later ones; an event arrives once its
// key is older than Settle plus Reorder.
func (r *Reader) Follow(ctx context.Context, from Cursor, f Filter, fn func(Item) error) error {
	fl := r.follower(from, f)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if err := fl.step(ctx, fn); err != nil {
			return err
		}
		timer.Reset(r.cfg.PollInterval)
	}
}

// Read returns the events after from that f selects and that are settled now, in feed
// order, and the cursor after them (past the events f left out, too).
func (r *Reader) Read(ctx context.Context, from Cursor, f Filter) ([]Item, Cursor, error) {
	fl := r.follower(from, f)
	var items []Item
	err := fl.step(ctx, func(it Item) error {
		items = append(items, it)
		return nil
	})
	return items, fl.cur, err
}
