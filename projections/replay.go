package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"buildledger/eventstore"
	"buildledger/internal/settings"
)

// EventScanner reads every event of the event store in parallel segments, as the DynamoDB
// and in-memory event stores do. fn is called concurrently from the segments, each call with
// records of one segment; a stream's records usually arrive together and in version order,
// but the replay does not rely on it.
type EventScanner interface {
	ScanSegments(ctx context.Context, segments int, fn func(segment int, recs []eventstore.Record) error) error
}

// EventCounter is implemented by scanners that can estimate how many events the store
// holds, for progress reports.
type EventCounter interface {
	EstimateEvents(ctx context.Context) (int64, error)
}

// ReplayerConfig configures a Replayer.
type ReplayerConfig struct {
	// Store is the read-model store to rebuild; required.
	Store Store
	// Events is the event store: the source of a replay without Scanner, and of the
	// catch-up pass, gap filling and single-stream rebuilds; required.
	Events eventstore.Store
	// Scanner reads the whole event store in parallel segments. Without it the replay reads
	// Events.ReadAll page by page.
	Scanner EventScanner
	// Segments is the number of parallel scan segments; default 8.
	Segments int
	// Workers is the number of goroutines that project events (each stream is always
	// projected by the same one); default 8.
	Workers int
	// PageSize is the number of events per ReadAll call; default 1000.
	PageSize int
	// CatchUpMargin is how far before the replay's start the catch-up pass begins reading
	// events, to cover writers whose clocks lag or whose appends commit late; default 1 minute.
	CatchUpMargin time.Duration
	// LeaseTTL is how long the replay lease lasts without renewal; a replay that crashed
	// blocks the next one for at most this long. Default 30 s.
	LeaseTTL time.Duration
	// MaxAttempts bounds how often the catch-up pass tries one event again after losing a
	// race with the live projector; default 10.
	MaxAttempts int
	// Progress, when set, is called with the number of events read so far, the estimated
	// total (-1 when unknown) and the rate in events per second.
	Progress func(done, total int64, rate float64)
	// ProgressInterval is the least time between two Progress calls; default 1 s. A negative
	// value reports after every batch of events.
	ProgressInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *ReplayerConfig) setDefaults() {
	settings.Default(&c.Segments, 8)
	settings.Default(&c.Workers, 8)
	settings.Default(&c.PageSize, 1000)
	settings.Default(&c.CatchUpMargin, time.Minute)
	settings.Default(&c.LeaseTTL, 30*time.Second)
	settings.Default(&c.MaxAttempts, defaultMaxAttempts)
	settings.Default(&c.ProgressInterval, time.Second)
	settings.DefaultFunc(&c.Now, time.Now)
}

// Validate reports every problem of the configuration at once.
func (c ReplayerConfig) Validate() error {
	p := settings.Prefixed("projections: replayer config")
	p.If(c.Store == nil, "Store is nil")
	p.If(c.Events == nil, "Events is nil")
	settings.Within(p, "Segments", c.Segments, 1, 1000)
	settings.AtLeast(p, "Workers", c.Workers, 1)
	settings.AtLeast(p, "PageSize", c.PageSize, 1)
	settings.NotNegative(p, "CatchUpMargin", c.CatchUpMargin)
	settings.AtLeast(p, "LeaseTTL", c.LeaseTTL, time.Second)
	settings.AtLeast(p, "MaxAttempts", c.MaxAttempts, 1)
	return p.Err()
}

// ReplayScope says what a replay rebuilds: everything when both fields are empty.
type ReplayScope struct {
	// Projection rebuilds one projection: "builds", "statuses", "locks" or "jobs".
	Projection string
	// Stream rebuilds the rows of one stream, e.g. "repo:api/foo".
	Stream string
}

// ReplayResult reports what a replay did.
type ReplayResult struct {
	// Generation is the generation the rebuilt tables belong to.
	Generation int64
	// Events is the number of events read by the rebuild pass.
	Events int64
	// CaughtUp is the number of events read by the catch-up pass.
	CaughtUp int64
	// Dropped are the tables dropped: the old generation and leftovers of interrupted runs.
	Dropped []Table
	// Elapsed is the replay's duration.
	Elapsed time.Duration
}

// Replayer rebuilds read models from the event store.
//
// A full or single-projection replay builds a fresh generation of the projections' tables
// from every event, switches readers to it by updating the generation pointer, waits
// GenerationCacheTTL so that every reader and the live projector have moved over, applies
// the events recorded since the replay began (minus CatchUpMargin) through the live path,
// then drops the old generation. Queries never see a half-built model, and a live projector
// running meanwhile keeps the old generation current until the switch and the new one after
// it; positions and gap filling make the new one complete.
//
// A single-stream replay works in place: it fences the stream's position (the live
// projector then returns ErrStreamRebuilding for that stream, to be redelivered), recomputes
// the stream's rows from its events, overwrites them and deletes rows that should not exist,
// then lifts the fence. Readers see each row either as before or rebuilt, never missing.
//
// Only one replay runs at a time (a lease in the readmodel table). A replay that is
// interrupted leaves the old generation live and its partial tables unreferenced; the next
// replay drops them first, and finishes a catch-up pass that had not completed.
type Replayer struct {
	cfg   ReplayerConfig
	store Store
	a     *applier
}

// NewReplayer returns a Replayer.
func NewReplayer(cfg ReplayerConfig) (*Replayer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Replayer{cfg: cfg, store: cfg.Store, a: &applier{
		store:       cfg.Store,
		events:      cfg.Events,
		gens:        newGenerations(cfg.Store, GenerationCacheTTL, cfg.Now),
		maxAttempts: cfg.MaxAttempts,
	}}, nil
}

// Replay rebuilds what scope names.
func (r *Replayer) Replay(ctx context.Context, scope ReplayScope) (res ReplayResult, err error) {
	start := r.cfg.Now()
	defer func() { res.Elapsed = r.cfg.Now().Sub(start) }()
	projs, err := scopeProjections(scope)
	if err != nil {
		return res, err
	}
	err = r.holdingLease(ctx, func(ctx context.Context) error {
		ptr, err := loadPointer(ctx, r.store)
		if err != nil {
			return err
		}
		if ptr, err = r.finishCatchUps(ctx, ptr, &res); err != nil {
			return err
		}
		if scope.Stream != "" {
			return r.rebuildStream(ctx, ptr, scope.Stream, &res)
		}
		return r.rebuild(ctx, ptr, projs, &res)
	})
	return res, err
}

// scopeProjections returns the projections a full or single-projection replay of scope
// rebuilds (none for a single stream), or ErrInvalidQuery.
func scopeProjections(scope ReplayScope) ([]*projection, error) {
	switch {
	case scope.Projection != "" && scope.Stream != "":
		return nil, fmt.Errorf("%w: replay either a projection or a stream, not both", ErrInvalidQuery)
	case scope.Stream != "":
		if _, _, err := splitStream(scope.Stream); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
		return nil, nil
	case scope.Projection != "":
		p, ok := projectionByName(scope.Projection)
		if !ok {
			return nil, fmt.Errorf("%w: unknown projection %q (want one of %s)", ErrInvalidQuery, scope.Projection, strings.Join(ProjectionNames(), ", "))
		}
		return []*projection{p}, nil
	}
	return allProjections, nil
}

// inScope returns the set of projs.
func inScope(projs []*projection) map[*projection]bool {
	set := make(map[*projection]bool, len(projs))
	for _, p := range projs {
		set[p] = true
	}
	return set
}

// readPages calls fn with every page of events.ReadAll after the key after.
func readPages(ctx context.Context, events eventstore.Store, after string, pageSize int, fn func(eventstore.Page) error) error {
	for {
		page, err := events.ReadAll(ctx, after, pageSize)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}
