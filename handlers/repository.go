package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/backoff"
	"buildledger/snapshots"
)

// Aggregates is the aggregate repository: it loads an aggregate from the cache, a
// snapshot and the events after it, and carries out a decision on a stream with the
// version checks and retries that make it safe against other writers.
//
// The aggregates of recently updated streams stay in memory at the version their last
// update left them. A decision taken on such an aggregate is as safe as one taken on a
// freshly loaded one: its append is conditional on the stream still being at that version
// (a stale aggregate loses like any racer, and the stream is loaded again), and a decision
// that appends nothing (a refusal, a no-op) is only taken after reading the events
// appended since.
type Aggregates struct {
	events          eventstore.Store
	snapshots       snapshots.Store
	policy          snapshots.Policy
	snapshotTimeout time.Duration
	maxConflicts    int
	backoffBase     time.Duration
	clock           func() time.Time
	log             *zerolog.Logger
	metrics         *Metrics
	cache           *aggregateCache
	inFlight        sync.WaitGroup
}

// NewAggregates returns the repository of the aggregates stored in events, loaded from the
// snapshots in snaps when snaps is not nil. It caches no aggregate and takes no snapshot
// (a command handler's repository does both), so that every Load reads the stores.
func NewAggregates(events eventstore.Store, snaps snapshots.Store) (*Aggregates, error) {
	cfg := CommandHandlerConfig{Events: events, Publisher: noPublisher{}, Snapshots: snaps, SnapshotPolicy: snapshots.EveryN(0), AggregateCacheSize: -1}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := NewMetrics(nil)
	if err != nil {
		return nil, err
	}
	return newAggregates(cfg, m), nil
}

// newAggregates returns the repository a command handler of cfg (defaults set) uses.
func newAggregates(cfg CommandHandlerConfig, m *Metrics) *Aggregates {
	return &Aggregates{
		events: cfg.Events, snapshots: cfg.Snapshots, policy: cfg.SnapshotPolicy, snapshotTimeout: cfg.SnapshotTimeout,
		maxConflicts: cfg.MaxConflictRetries, backoffBase: cfg.ConflictBackoff, clock: cfg.Clock,
		log: logger(cfg.Logger), metrics: m, cache: newAggregateCache(cfg.AggregateCacheSize),
	}
}

// Decide returns the events that carry out a command on agg, or why it cannot be carried
// out. It must not change agg; Update calls it once per attempt.
type Decide func(agg domain.Aggregate) ([]domain.Event, error)

// Change is one command to carry out on a stream.
type Change struct {
	// Command is the command the append carries out; its id makes it happen once.
	Command eventstore.CommandRef
	// Metadata is stored with every event appended.
	Metadata eventstore.Metadata
	// Decide decides on the aggregate.
	Decide Decide
	// Log receives the update's logs; nil uses the repository's.
	Log *zerolog.Logger
}

// Updated is what Update did.
type Updated struct {
	// Version is the stream's version the decision was taken on.
	Version int64
	// Records are the events appended; none when the decision appended nothing.
	Records []eventstore.Record
	// Refused is the decision's error, taken on the stream as it is; nothing was appended.
	Refused error
}

// AppendError is an append that failed for another reason than a lost race: a duplicate
// command id (errors.Is eventstore.ErrDuplicateCommand), events the store cannot hold, or a
// store failure after which whether the append took effect is unknown.
type AppendError struct {
	// Stream is the stream appended to.
	Stream string
	// Err is the store's error.
	Err error
}

// Error names the stream.
func (e *AppendError) Error() string {
	return fmt.Sprintf("handlers: append to %s: %v", e.Stream, e.Err)
}

// Unwrap returns the store's error.
func (e *AppendError) Unwrap() error { return e.Err }

// Wait blocks until the snapshots being taken in the background are stored or failed.
func (r *Aggregates) Wait() { r.inFlight.Wait() }

// Load returns the aggregate of stream at its latest version: the cached one brought up to
// date, or one restored from a usable snapshot and the events after it, or one replayed
// from every event. The caller owns it: a cached aggregate leaves the cache.
func (r *Aggregates) Load(ctx context.Context, stream string) (domain.Aggregate, error) {
	agg, current, err := r.acquire(ctx, stream, r.log)
	if err != nil || current {
		return agg, err
	}
	if err := r.catchUp(ctx, agg); err != nil {
		return nil, err
	}
	return agg, nil
}

// Update carries out c on stream: it decides on the aggregate and appends the events with
// the command's outcome, conditional on the version decided on. A lost race is decided
// again on the stream loaded afresh, after a jittered wait, at most MaxConflictRetries
// times. Snapshots that became due are taken in the background.
//
// A decision error comes back as Updated.Refused with a nil error. An error is a failure
// to load, to encode, to append (an *AppendError) or too many lost races.
func (r *Aggregates) Update(ctx context.Context, stream string, c Change) (Updated, error) {
	if c.Log == nil {
		c.Log = r.log
	}
	agg, current, err := r.acquire(ctx, stream, c.Log)
	if err != nil {
		return Updated{}, err
	}
	for conflicts := 0; ; {
		before := agg.Version()
		events, refused, retake, err := r.decide(ctx, agg, current, c.Decide)
		if err != nil {
			return Updated{}, err
		}
		if retake {
			current = true
			continue
		}
		if refused != nil {
			r.cache.put(agg)
			return Updated{Version: before, Refused: refused}, nil
		}
		records, err := r.append(ctx, agg, events, c)
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			return Updated{Version: before, Records: records}, err
		}
		if agg, err = r.afterConflict(ctx, stream, c.Command, conflicts, before, err, c.Log); err != nil {
			return Updated{}, err
		}
		conflicts++
		current = true
	}
}

// decide runs one attempt's decision. When the aggregate may be behind and the decision
// would append nothing, it catches the aggregate up instead (retake): only an append with
// events is conditional on the stream's version.
func (r *Aggregates) decide(ctx context.Context, agg domain.Aggregate, current bool, decide Decide) (events []domain.Event, refused error, retake bool, err error) {
	events, refused = decide(agg)
	if !current && (refused != nil || len(events) == 0) {
		return nil, nil, true, r.catchUp(ctx, agg)
	}
	return events, refused, false, nil
}

// append stores the decided events and, on success, applies them to agg, takes a snapshot
// when one is due and keeps agg for the next update. A lost race returns the store's
// error as it is; every other failure an *AppendError.
func (r *Aggregates) append(ctx context.Context, agg domain.Aggregate, events []domain.Event, c Change) ([]eventstore.Record, error) {
	stream, before := agg.StreamID(), agg.Version()
	toStore, err := encodeEvents(events, c.Command, c.Metadata)
	if err != nil {
		r.cache.put(agg)
		return nil, err
	}
	records, err := r.events.Append(ctx, stream, before, toStore, c.Command)
	switch {
	case errors.Is(err, eventstore.ErrVersionConflict):
		return nil, err
	case err != nil:
		// Whether the append took effect is unknown; the aggregate still is the state at
		// before, which is all a cached aggregate promises.
		r.cache.put(agg)
		return nil, &AppendError{Stream: stream, Err: err}
	}
	for _, e := range events {
		agg.Apply(e)
	}
	if agg.Version() == before+int64(len(records)) {
		if r.snapshots != nil && r.policy.Due(before, agg.Version()) {
			r.snapshot(agg, c.Log)
		}
		r.cache.put(agg)
	}
	return records, nil
}

// afterConflict counts a lost race and, unless retries are used up, waits and returns the
// stream loaded afresh: the aggregate in hand is behind.
func (r *Aggregates) afterConflict(ctx context.Context, stream string, cmd eventstore.CommandRef, conflicts int, version int64, cause error, log *zerolog.Logger) (domain.Aggregate, error) {
	r.metrics.Conflicts.Inc()
	if conflicts >= r.maxConflicts {
		return nil, fmt.Errorf("handlers: %s %s: gave up after %d version conflicts on %s: %w",
			cmd.Type, cmd.ID, conflicts+1, stream, cause)
	}
	log.Debug().Int("attempt", conflicts+1).Int64("version", version).Msg("version conflict, deciding again")
	if err := r.backoff(ctx, conflicts); err != nil {
		return nil, err
	}
	return r.loadStored(ctx, stream, log)
}

// acquire returns the aggregate of stream: the cached one, which may be behind the stream
// (current is false), or else the one loadStored returns. The caller owns it; it goes back
// to the cache with put.
func (r *Aggregates) acquire(ctx context.Context, stream string, log *zerolog.Logger) (agg domain.Aggregate, current bool, err error) {
	if agg := r.cache.take(stream); agg != nil {
		return agg, false, nil
	}
	agg, err = r.loadStored(ctx, stream, log)
	return agg, true, err
}

// loadStored returns the aggregate of stream at its latest version: from a usable
// snapshot and the events after it, or by replaying the whole stream.
func (r *Aggregates) loadStored(ctx context.Context, stream string, log *zerolog.Logger) (domain.Aggregate, error) {
	agg, from, err := r.restore(ctx, stream, log)
	if err != nil {
		return nil, err
	}
	events, err := r.tail(ctx, stream, from)
	if err != nil {
		return nil, err
	}
	if agg == nil {
		if agg, err = domain.Rehydrate(stream, events); err != nil {
			return nil, fmt.Errorf("handlers: load %s: %w", stream, err)
		}
		return agg, nil
	}
	for _, e := range events {
		agg.Apply(e)
	}
	return agg, nil
}

// restore returns the aggregate of stream's usable snapshot and the version its tail
// starts at; no aggregate (and version 1) when there is none.
func (r *Aggregates) restore(ctx context.Context, stream string, log *zerolog.Logger) (domain.Aggregate, int64, error) {
	empty, err := domain.NewAggregate(stream)
	if err != nil {
		return nil, 0, fmt.Errorf("handlers: load %s: %w", stream, err)
	}
	if r.snapshots == nil {
		return nil, 1, nil
	}
	snap, err := r.snapshots.Fetch(ctx, stream, empty.SnapshotSchema())
	var unusable *snapshots.UnusableError
	switch {
	case err == nil:
		restored, rerr := domain.RestoreAggregate(stream, snap.Version, snap.Schema, snap.State)
		if rerr != nil {
			r.unusableSnapshot(log, snap.Version, rerr.Error())
			return nil, 1, nil
		}
		return restored, snap.Version + 1, nil
	case errors.As(err, &unusable):
		r.unusableSnapshot(log, unusable.Version, unusable.Reason)
	case errors.Is(err, snapshots.ErrNotFound):
	default:
		// Snapshots only make loading faster; a failing snapshot store must not stop
		// commands.
		log.Warn().Err(err).Msg("snapshot fetch failed; replaying the whole stream")
	}
	return nil, 1, nil
}

// catchUp applies to agg the events appended to its stream after its version.
func (r *Aggregates) catchUp(ctx context.Context, agg domain.Aggregate) error {
	events, err := r.tail(ctx, agg.StreamID(), agg.Version()+1)
	if err != nil {
		return err
	}
	for _, e := range events {
		agg.Apply(e)
	}
	return nil
}

// tail returns the decoded events of stream from version from on.
func (r *Aggregates) tail(ctx context.Context, stream string, from int64) ([]domain.Event, error) {
	records, err := r.events.Load(ctx, stream, from)
	if err != nil {
		return nil, fmt.Errorf("handlers: load %s from version %d: %w", stream, from, err)
	}
	events := make([]domain.Event, len(records))
	for i, rec := range records {
		if want := from + int64(i); rec.Version != want {
			return nil, fmt.Errorf("handlers: load %s: found version %d where %d belongs", stream, rec.Version, want)
		}
		if events[i], err = domain.DecodeEvent(rec.Type, rec.Body); err != nil {
			return nil, fmt.Errorf("handlers: load %s version %d: %w", stream, rec.Version, err)
		}
	}
	return events, nil
}

func (r *Aggregates) unusableSnapshot(log *zerolog.Logger, version int64, reason string) {
	r.metrics.SnapshotsUnusable.Inc()
	log.Warn().Int64("snapshot_version", version).Str("reason", reason).
		Msg("snapshot unusable; replaying the whole stream")
}

// snapshot stores agg's state in the background: a snapshot is an optimisation, so it
// never delays or fails the command that made it due.
func (r *Aggregates) snapshot(agg domain.Aggregate, log *zerolog.Logger) {
	stream, version, schema := agg.StreamID(), agg.Version(), agg.SnapshotSchema()
	createdAt := r.clock().UTC()
	state, err := agg.MarshalState()
	if err != nil {
		r.metrics.SnapshotsFailed.Inc()
		log.Warn().Err(err).Int64("version", version).Msg("snapshot: marshal state failed")
		return
	}
	r.inFlight.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), r.snapshotTimeout)
		defer cancel()
		err := r.snapshots.Store(ctx, snapshots.Snapshot{
			AggregateID: stream, Version: version, Schema: schema, CreatedAt: createdAt, State: state,
		})
		if err != nil {
			r.metrics.SnapshotsFailed.Inc()
			log.Warn().Err(err).Int64("version", version).Msg("snapshot: store failed")
			return
		}
		r.metrics.SnapshotsTaken.Inc()
		log.Debug().Int64("version", version).Msg("snapshot stored")
	})
}

// backoff waits a jittered ConflictBackoff·2^attempt (capped), or until ctx ends, so that
// racing workers spread out.
func (r *Aggregates) backoff(ctx context.Context, attempt int) error {
	b := backoff.Backoff{Base: r.backoffBase, Max: maxConflictBackoff}
	if err := b.Wait(ctx, attempt); err != nil {
		return fmt.Errorf("handlers: waiting to retry after a version conflict: %w", err)
	}
	return nil
}

// encodeEvents turns decided events into events to append, with the change's metadata.
func encodeEvents(events []domain.Event, cmd eventstore.CommandRef, meta eventstore.Metadata) ([]eventstore.Event, error) {
	out := make([]eventstore.Event, len(events))
	for i, e := range events {
		typ, body, err := domain.EncodeEvent(e)
		if err != nil {
			return nil, fmt.Errorf("handlers: encode event %d of %s %s: %w", i, cmd.Type, cmd.ID, err)
		}
		out[i] = eventstore.Event{Type: typ, Body: body, Metadata: meta}
	}
	return out, nil
}

// noPublisher stands in for the publisher a repository alone never uses.
type noPublisher struct{}

func (noPublisher) Publish(context.Context, []eventstore.Record) error { return nil }
