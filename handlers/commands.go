package handlers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/snapshots"
)

// Defaults of CommandHandlerConfig.
const (
	// DefaultMaxConflictRetries is how often a command is decided again after losing a race.
	DefaultMaxConflictRetries = 10
	// DefaultConflictBackoff is the base of the jittered, doubling wait between those retries.
	DefaultConflictBackoff = 10 * time.Millisecond
	// DefaultSnapshotEvery is the snapshot interval, in events, when only a store is given.
	DefaultSnapshotEvery = 50
	// DefaultSnapshotTimeout bounds taking and storing one snapshot.
	DefaultSnapshotTimeout = 10 * time.Second
)

// maxConflictBackoff caps one wait between conflict retries.
const maxConflictBackoff = 500 * time.Millisecond

// RecordPublisher publishes committed events to the read side. Publishing the same record
// again must be harmless: redeliveries and duplicate commands re-publish.
type RecordPublisher interface {
	Publish(ctx context.Context, records []eventstore.Record) error
}

// CommandHandlerConfig configures a CommandHandler.
type CommandHandlerConfig struct {
	// Events is the event store; required.
	Events eventstore.Store
	// Publisher publishes committed events; required.
	Publisher RecordPublisher
	// Snapshots stores aggregate snapshots; nil disables snapshots.
	Snapshots snapshots.Store
	// SnapshotPolicy says when to take a snapshot; default EveryN(DefaultSnapshotEvery).
	SnapshotPolicy snapshots.Policy
	// SnapshotTimeout bounds taking and storing one snapshot; default DefaultSnapshotTimeout.
	SnapshotTimeout time.Duration
	// MaxConflictRetries is how often a command is decided again after a version conflict
	// before the delivery fails (and is retried later); default DefaultMaxConflictRetries.
	MaxConflictRetries int
	// AggregateCacheSize is how many streams' aggregates are kept in memory between
	// commands, the least recently used leaving first, so that the next command on a stream
	// reads neither its snapshot nor its events; default DefaultAggregateCacheSize, negative
	// disables the cache.
	AggregateCacheSize int
	// ConflictBackoff is the base wait between conflict retries: attempt n waits a random
	// time up to ConflictBackoff·2ⁿ (capped), so that racing workers spread out. Default
	// DefaultConflictBackoff.
	ConflictBackoff time.Duration
	// MaxCommandBytes is the largest accepted message body; default DefaultMaxCommandBytes.
	MaxCommandBytes int
	// Clock is the time given to decisions; default time.Now.
	Clock func() time.Time
	// NewID returns random ids for decisions (lock ids, job run ids); default uuid.New.
	NewID func() uuid.UUID
	// NewTimeID returns time-ordered ids (status event ids); default version 1 UUIDs, the
	// time-based ids the status seed used.
	NewTimeID func() uuid.UUID
	// Logger receives structured logs; nil is silent.
	Logger *zerolog.Logger
	// Metrics are updated as commands are handled; nil creates unregistered ones.
	Metrics *Metrics
}

func (c *CommandHandlerConfig) setDefaults() {
	if c.SnapshotPolicy == nil {
		c.SnapshotPolicy = snapshots.EveryN(DefaultSnapshotEvery)
	}
	if c.SnapshotTimeout <= 0 {
		c.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if c.MaxConflictRetries == 0 {
		c.MaxConflictRetries = DefaultMaxConflictRetries
	}
	if c.ConflictBackoff == 0 {
		c.ConflictBackoff = DefaultConflictBackoff
	}
	if c.AggregateCacheSize == 0 {
		c.AggregateCacheSize = DefaultAggregateCacheSize
	}
	if c.MaxCommandBytes <= 0 {
		c.MaxCommandBytes = DefaultMaxCommandBytes
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.New
	}
	if c.NewTimeID == nil {
		c.NewTimeID = func() uuid.UUID { return uuid.Must(uuid.NewUUID()) }
	}
}

// Validate reports every problem of the configuration.
func (c CommandHandlerConfig) Validate() error {
	var errs []error
	if c.Events == nil {
		errs = append(errs, errors.New("Events (event store) is required"))
	}
	if c.Publisher == nil {
		errs = append(errs, errors.New("Publisher is required"))
	}
	if c.MaxConflictRetries < 0 {
		errs = append(errs, fmt.Errorf("MaxConflictRetries %d is negative", c.MaxConflictRetries))
	}
	if c.ConflictBackoff < 0 {
		errs = append(errs, fmt.Errorf("ConflictBackoff %v is negative", c.ConflictBackoff))
	}
	if len(errs) > 0 {
		return fmt.Errorf("handlers: command handler config: %w", errors.Join(errs...))
	}
	return nil
}

// Dead-letter reasons, the reason label of Metrics.DeadLettered.
const (
	// DeadLetterInvalid: the message cannot be decoded or validated.
	DeadLetterInvalid = "invalid"
	// DeadLetterReusedID: the command id already has an outcome for another command.
	DeadLetterReusedID = "reused_id"
)

// DeadLetterError marks a message that no retry can fix: the worker moves it to the
// dead-letter queue and acks it, and keeps going.
type DeadLetterError struct {
	// CommandID is the command id, when known.
	CommandID string
	// Kind is DeadLetterInvalid or DeadLetterReusedID.
	Kind string
	// Reason says what is wrong.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns the reason prefixed with the package.
func (e *DeadLetterError) Error() string {
	return "handlers: dead letter (" + e.Kind + "): " + e.Reason
}

// Unwrap returns the underlying error.
func (e *DeadLetterError) Unwrap() error { return e.Err }

// IsDeadLetter reports whether err marks a message for the dead-letter queue.
func IsDeadLetter(err error) bool {
	var dl *DeadLetterError
	return errors.As(err, &dl)
}

// Result is what became of one command message.
type Result struct {
	// Outcome is the command's outcome, as stored (or as it was already stored).
	Outcome eventstore.Outcome
	// Records are the events published for the command: the committed ones, or, for a
	// duplicate, the ones committed the first time.
	Records []eventstore.Record
	// Duplicate is true when the command id already had an outcome.
	Duplicate bool
}

// CommandHandler decides command messages: it loads the target aggregate (snapshot plus
// the events after it), lets the domain decide, appends the events together with the
// command's outcome, publishes them and, now and then, takes a snapshot.
//
// Every command takes effect once: the outcome item is written in the same transaction as
// the events, so a redelivered or resent command finds it and only re-publishes.
//
// The aggregates of recently decided streams stay in memory at the version their last
// command left them. A command decided on such an aggregate is as safe as one decided on a
// freshly loaded one: its append is conditional on the stream still being at that version
// (a stale aggregate loses like any racer, and the stream is loaded again), and a decision
// that appends nothing (a rejection, a no-op) is only taken after reading the events
// appended since.
type CommandHandler struct {
	cfg        CommandHandlerConfig
	log        *zerolog.Logger
	metrics    *Metrics
	aggregates *aggregateCache
	snapshots  sync.WaitGroup
}

// NewCommandHandler returns a CommandHandler for a validated configuration.
func NewCommandHandler(cfg CommandHandlerConfig) (*CommandHandler, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := cfg.Metrics
	if m == nil {
		var err error
		if m, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	return &CommandHandler{cfg: cfg, log: logger(cfg.Logger), metrics: m, aggregates: newAggregateCache(cfg.AggregateCacheSize)}, nil
}

// Wait blocks until the snapshots being taken in the background are stored or failed.
func (h *CommandHandler) Wait() { h.snapshots.Wait() }

// Handle decides one command message. A nil error means the message may be acked: the
// outcome is durable and the events are published. A *DeadLetterError means the message
// can never succeed and belongs in the dead-letter queue (its invalid outcome, when an id
// is known, is already stored). Any other error is transient: nothing wrong was written,
// and handling the same message again is safe.
func (h *CommandHandler) Handle(ctx context.Context, env Envelope) (Result, error) {
	d, err := DecodeEnvelope(env, h.cfg.MaxCommandBytes)
	if err != nil {
		inv, ok := errorsAsInvalid(err)
		if !ok {
			return Result{}, err
		}
		return Result{}, h.invalid(ctx, inv)
	}
	stream := d.Command.StreamID()
	log := h.log.With().Str("command_id", d.ID).Str("command_type", d.Type).
		Str("stream", stream).Str("correlation_id", d.CorrelationID).Logger()

	// No outcome is read first: the outcome item's condition, in the append or in
	// RecordOutcome, turns a command id that was used before into ErrDuplicateCommand, and
	// that is when the stored outcome is read and its events re-published.
	command := eventstore.Command{ID: d.ID, Type: d.Type, BodyHash: d.BodyHash}
	agg, current, err := h.load(ctx, stream, &log)
	if err != nil {
		return Result{}, err
	}
	for conflicts := 0; ; {
		before := agg.Version()
		now := h.cfg.Clock()
		if !d.NotAfter.IsZero() && now.After(d.NotAfter) {
			// Checked on every attempt: conflict retries and a worker that was paused take
			// time, and a command must never take effect after its sender gave up on it.
			h.aggregates.put(agg)
			return h.reject(ctx, d, before, &ExpiredError{NotAfter: d.NotAfter, At: now}, &log)
		}
		events, err := agg.Handle(d.Command, h.env(now))
		if !current && (err != nil || len(events) == 0) {
			// Only an append with events is conditional on the stream's version: decide
			// anything else on the stream as it is now.
			if err := h.catchUp(ctx, agg); err != nil {
				return Result{}, err
			}
			current = true
			continue
		}
		switch {
		case err == nil:
		case errors.Is(err, domain.ErrRejected):
			h.aggregates.put(agg)
			return h.reject(ctx, d, before, err, &log)
		case errors.Is(err, domain.ErrInvalidCommand):
			h.aggregates.put(agg)
			return h.invalidDecision(ctx, d, err, &log)
		default:
			// A command handled before, whose stream has moved on since, is a duplicate
			// whatever deciding it now says.
			if res, found, xerr := h.existing(ctx, d, &log); found || xerr != nil {
				return res, xerr
			}
			// Not the message's fault (a routing or environment bug, a corrupt stream):
			// fail the delivery so that SQS retries it and, in the end, dead-letters it.
			return Result{}, fmt.Errorf("handlers: decide %s %s on %s: %w", d.Type, d.ID, stream, err)
		}
		toStore, err := encodeEvents(events, d)
		if err != nil {
			return Result{}, err
		}
		records, err := h.cfg.Events.Append(ctx, stream, before, toStore,
			command)
		switch {
		case err == nil:
		case errors.Is(err, eventstore.ErrVersionConflict):
			h.metrics.Conflicts.Inc()
			if conflicts >= h.cfg.MaxConflictRetries {
				return Result{}, fmt.Errorf("handlers: %s %s: gave up after %d version conflicts on %s: %w",
					d.Type, d.ID, conflicts+1, stream, err)
			}
			log.Debug().Int("attempt", conflicts+1).Int64("version", before).Msg("version conflict, deciding again")
			if err := h.backoff(ctx, conflicts); err != nil {
				return Result{}, err
			}
			conflicts++
			// The aggregate in hand is behind; load the stream afresh.
			if agg, err = h.loadStored(ctx, stream, &log); err != nil {
				return Result{}, err
			}
			current = true
			continue
		case errors.Is(err, eventstore.ErrDuplicateCommand):
			// A redelivery, a resend, or another delivery of the same command that
			// committed first.
			h.aggregates.put(agg)
			return h.duplicate(ctx, d, &log)
		case isPermanentAppendError(err):
			h.aggregates.put(agg)
			return h.invalidDecision(ctx, d, err, &log)
		default:
			// Whether the append took effect is unknown; the aggregate still is the state
			// at before, which is all a cached aggregate promises.
			h.aggregates.put(agg)
			return Result{}, fmt.Errorf("handlers: append %s %s to %s: %w", d.Type, d.ID, stream, err)
		}

		at := h.cfg.Clock().UTC()
		if len(records) > 0 {
			at = records[0].RecordedAt
		}
		outcome := eventstore.AcceptedOutcome(command, stream, before, records, at)
		for _, e := range events {
			agg.Apply(e)
		}
		if agg.Version() == outcome.Version {
			if h.cfg.Snapshots != nil && h.cfg.SnapshotPolicy.Due(before, outcome.Version) {
				h.snapshot(agg, &log)
			}
			h.aggregates.put(agg)
		}
		if err := h.cfg.Publisher.Publish(ctx, records); err != nil {
			// The events are durable; a redelivery finds the outcome and publishes again.
			return Result{Outcome: outcome, Records: records}, fmt.Errorf("handlers: publish events of %s %s: %w", d.Type, d.ID, err)
		}
		h.metrics.Commands.WithLabelValues(LabelAccepted).Inc()
		log.Debug().Int64("version", outcome.Version).Int("events", len(records)).Msg("command accepted")
		return Result{Outcome: outcome, Records: records}, nil
	}
}

// existing handles a command id that already has an outcome: the same command again
// re-publishes its committed events; another command under the same id is dead-lettered.
// found is false when the id has no outcome yet.
func (h *CommandHandler) existing(ctx context.Context, d DecodedCommand, log *zerolog.Logger) (res Result, found bool, err error) {
	o, err := h.cfg.Events.Outcome(ctx, d.ID)
	switch {
	case errors.Is(err, eventstore.ErrNotFound):
		return Result{}, false, nil
	case err != nil:
		return Result{}, false, fmt.Errorf("handlers: read outcome of %s: %w", d.ID, err)
	}
	if o.BodyHash != "" && o.BodyHash != d.BodyHash {
		reason := fmt.Sprintf("command id %s was already used for another command (%s on %s, %s); send this command with a new id",
			d.ID, orUnknown(o.CommandType), orUnknown(o.Stream), o.Status)
		log.Warn().Str("previous_type", o.CommandType).Str("previous_stream", o.Stream).
			Str("previous_status", o.Status).Msg("command id reused for another command; dead-lettering it")
		h.metrics.DeadLettered.WithLabelValues("commands", DeadLetterReusedID).Inc()
		return Result{}, true, &DeadLetterError{CommandID: d.ID, Kind: DeadLetterReusedID, Reason: reason}
	}
	res = Result{Outcome: o, Duplicate: true}
	if o.Status == eventstore.OutcomeAccepted && o.LastVersion > 0 {
		res.Records, err = h.cfg.Events.LoadRange(ctx, o.Stream, o.FirstVersion, o.LastVersion)
		if err != nil {
			return Result{}, true, fmt.Errorf("handlers: reload events of %s: %w", d.ID, err)
		}
		if want := o.LastVersion - o.FirstVersion + 1; int64(len(res.Records)) != want {
			return Result{}, true, fmt.Errorf("handlers: reload events of %s: got %d of %s versions %d..%d, want %d",
				d.ID, len(res.Records), o.Stream, o.FirstVersion, o.LastVersion, want)
		}
		if err := h.cfg.Publisher.Publish(ctx, res.Records); err != nil {
			return Result{}, true, fmt.Errorf("handlers: re-publish events of %s: %w", d.ID, err)
		}
	}
	h.metrics.Duplicates.Inc()
	h.metrics.Commands.WithLabelValues(LabelDuplicate).Inc()
	log.Debug().Str("status", o.Status).Int("republished", len(res.Records)).Msg("duplicate command")
	return res, true, nil
}

// duplicate handles a command whose outcome write found the id already used.
func (h *CommandHandler) duplicate(ctx context.Context, d DecodedCommand, log *zerolog.Logger) (Result, error) {
	res, found, err := h.existing(ctx, d, log)
	if err == nil && !found {
		err = fmt.Errorf("handlers: %s %s: the store reported a duplicate but holds no outcome", d.Type, d.ID)
	}
	return res, err
}

// invalidDecision stores the invalid outcome of a decoded command that the domain or the
// store refused as malformed. When the id already has an outcome, the message is a
// duplicate (a redelivery of a command handled before) and is handled as one.
func (h *CommandHandler) invalidDecision(ctx context.Context, d DecodedCommand, cause error, log *zerolog.Logger) (Result, error) {
	inv := &InvalidMessageError{
		CommandID: d.ID, CommandType: d.Type, BodyHash: d.BodyHash,
		Reason: truncate(cause.Error(), maxReasonBytes), Err: cause,
	}
	err := h.recordInvalid(ctx, inv)
	switch {
	case errors.Is(err, eventstore.ErrDuplicateCommand):
		return h.duplicate(ctx, d, log)
	case err != nil:
		return Result{}, fmt.Errorf("handlers: record invalid outcome of %s: %w", inv.CommandID, err)
	}
	return Result{}, h.deadLetterInvalid(inv)
}

// reject stores the rejected outcome with the rule's reason.
func (h *CommandHandler) reject(ctx context.Context, d DecodedCommand, version int64, cause error, log *zerolog.Logger) (Result, error) {
	o := eventstore.Outcome{
		CommandID:   d.ID,
		CommandType: d.Type,
		Status:      eventstore.OutcomeRejected,
		Stream:      d.Command.StreamID(),
		Version:     version,
		Reason:      truncate(cause.Error(), maxReasonBytes),
		Code:        domain.RejectionCode(cause),
		BodyHash:    d.BodyHash,
		RecordedAt:  h.cfg.Clock().UTC(),
	}
	err := h.cfg.Events.RecordOutcome(ctx, o)
	switch {
	case errors.Is(err, eventstore.ErrDuplicateCommand):
		return h.duplicate(ctx, d, log)
	case err != nil:
		return Result{}, fmt.Errorf("handlers: record rejection of %s %s: %w", d.Type, d.ID, err)
	}
	h.metrics.Commands.WithLabelValues(LabelRejected).Inc()
	log.Info().Str("code", o.Code).Str("reason", o.Reason).Msg("command rejected")
	return Result{Outcome: o}, nil
}

// invalid stores the invalid outcome when an id is known and returns the error that sends
// the message to the dead-letter queue.
func (h *CommandHandler) invalid(ctx context.Context, inv *InvalidMessageError) error {
	if inv.CommandID != "" {
		err := h.recordInvalid(ctx, inv)
		// A duplicate is a redelivery of this message (its outcome is stored) or a body
		// sent under an id that already has an outcome; either way the stored one stands.
		if err != nil && !errors.Is(err, eventstore.ErrDuplicateCommand) {
			return fmt.Errorf("handlers: record invalid outcome of %s: %w", inv.CommandID, err)
		}
	}
	return h.deadLetterInvalid(inv)
}

// recordInvalid stores the invalid outcome of inv's command id.
func (h *CommandHandler) recordInvalid(ctx context.Context, inv *InvalidMessageError) error {
	return h.cfg.Events.RecordOutcome(ctx, eventstore.Outcome{
		CommandID:   inv.CommandID,
		CommandType: inv.CommandType,
		Status:      eventstore.OutcomeInvalid,
		Reason:      inv.Reason,
		BodyHash:    inv.BodyHash,
		RecordedAt:  h.cfg.Clock().UTC(),
	})
}

// deadLetterInvalid counts and logs an invalid message whose outcome is stored, and
// returns the error that sends it to the dead-letter queue.
func (h *CommandHandler) deadLetterInvalid(inv *InvalidMessageError) error {
	h.metrics.Commands.WithLabelValues(LabelInvalid).Inc()
	h.metrics.DeadLettered.WithLabelValues("commands", DeadLetterInvalid).Inc()
	h.log.Warn().Str("command_id", inv.CommandID).Str("command_type", inv.CommandType).
		Str("reason", inv.Reason).Msg("invalid command message; dead-lettering it")
	return &DeadLetterError{CommandID: inv.CommandID, Kind: DeadLetterInvalid, Reason: inv.Reason, Err: inv}
}

// load returns the aggregate of stream: the cached one, which may be behind the stream
// (current is false), or else the one loadStored returns. The caller owns it; it goes back
// to the cache with put.
func (h *CommandHandler) load(ctx context.Context, stream string, log *zerolog.Logger) (agg domain.Aggregate, current bool, err error) {
	if agg := h.aggregates.take(stream); agg != nil {
		return agg, false, nil
	}
	agg, err = h.loadStored(ctx, stream, log)
	return agg, true, err
}

// loadStored returns the aggregate of stream at its latest version: from a usable
// snapshot and the events after it, or by replaying the whole stream.
func (h *CommandHandler) loadStored(ctx context.Context, stream string, log *zerolog.Logger) (domain.Aggregate, error) {
	empty, err := domain.NewAggregate(stream)
	if err != nil {
		return nil, fmt.Errorf("handlers: load %s: %w", stream, err)
	}
	var agg domain.Aggregate
	from := int64(1)
	if h.cfg.Snapshots != nil {
		snap, err := h.cfg.Snapshots.Fetch(ctx, stream, empty.SnapshotSchema())
		var unusable *snapshots.UnusableError
		switch {
		case err == nil:
			restored, rerr := domain.RestoreAggregate(stream, snap.Version, snap.Schema, snap.State)
			if rerr != nil {
				h.unusableSnapshot(log, snap.Version, rerr.Error())
				break
			}
			agg, from = restored, snap.Version+1
		case errors.As(err, &unusable):
			h.unusableSnapshot(log, unusable.Version, unusable.Reason)
		case errors.Is(err, snapshots.ErrNotFound):
		default:
			// Snapshots only make loading faster; a failing snapshot store must not stop
			// commands.
			log.Warn().Err(err).Msg("snapshot fetch failed; replaying the whole stream")
		}
	}
	events, err := h.events(ctx, stream, from)
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

// catchUp applies to agg the events appended to its stream after its version.
func (h *CommandHandler) catchUp(ctx context.Context, agg domain.Aggregate) error {
	events, err := h.events(ctx, agg.StreamID(), agg.Version()+1)
	if err != nil {
		return err
	}
	for _, e := range events {
		agg.Apply(e)
	}
	return nil
}

// events returns the decoded events of stream from version from on.
func (h *CommandHandler) events(ctx context.Context, stream string, from int64) ([]domain.Event, error) {
	records, err := h.cfg.Events.Load(ctx, stream, from)
	if err != nil {
		return nil, fmt.Errorf("handlers: load %s from version %d: %w", stream, from, err)
	}
	events := make([]domain.Event, len(records))
	for i, r := range records {
		if want := from + int64(i); r.Version != want {
			return nil, fmt.Errorf("handlers: load %s: found version %d where %d belongs", stream, r.Version, want)
		}
		if events[i], err = domain.DecodeEvent(r.Type, r.Body); err != nil {
			return nil, fmt.Errorf("handlers: load %s version %d: %w", stream, r.Version, err)
		}
	}
	return events, nil
}

func (h *CommandHandler) unusableSnapshot(log *zerolog.Logger, version int64, reason string) {
	h.metrics.SnapshotsUnusable.Inc()
	log.Warn().Int64("snapshot_version", version).Str("reason", reason).
		Msg("snapshot unusable; replaying the whole stream")
}

// snapshot stores agg's state in the background: a snapshot is an optimisation, so it
// never delays or fails the command that made it due.
func (h *CommandHandler) snapshot(agg domain.Aggregate, log *zerolog.Logger) {
	stream, version, schema := agg.StreamID(), agg.Version(), agg.SnapshotSchema()
	createdAt := h.cfg.Clock().UTC()
	state, err := agg.MarshalState()
	if err != nil {
		h.metrics.SnapshotsFailed.Inc()
		log.Warn().Err(err).Int64("version", version).Msg("snapshot: marshal state failed")
		return
	}
	h.snapshots.Add(1)
	go func() {
		defer h.snapshots.Done()
		ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SnapshotTimeout)
		defer cancel()
		err := h.cfg.Snapshots.Store(ctx, snapshots.Snapshot{
			AggregateID: stream, Version: version, Schema: schema, CreatedAt: createdAt, State: state,
		})
		if err != nil {
			h.metrics.SnapshotsFailed.Inc()
			log.Warn().Err(err).Int64("version", version).Msg("snapshot: store failed")
			return
		}
		h.metrics.SnapshotsTaken.Inc()
		log.Debug().Int64("version", version).Msg("snapshot stored")
	}()
}

// backoff waits a random time up to ConflictBackoff·2^attempt (capped), or until ctx ends.
func (h *CommandHandler) backoff(ctx context.Context, attempt int) error {
	if h.cfg.ConflictBackoff <= 0 {
		return nil
	}
	ceiling := min(h.cfg.ConflictBackoff<<min(attempt, 16), maxConflictBackoff)
	t := time.NewTimer(rand.N(ceiling) + 1)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("handlers: waiting to retry after a version conflict: %w", ctx.Err())
	}
}

func (h *CommandHandler) env(now time.Time) domain.Env {
	return domain.Env{Now: now, NewID: h.cfg.NewID, NewTimeID: h.cfg.NewTimeID}
}

// ExpiredError rejects a command whose deadline passed before it was decided.
type ExpiredError struct {
	// NotAfter is the command's deadline.
	NotAfter time.Time
	// At is when the worker came to decide it.
	At time.Time
}

// Error says that the command was not carried out.
func (e *ExpiredError) Error() string {
	return fmt.Sprintf("expired: the command's deadline %s had passed when it came to be decided (%s); it was not carried out",
		e.NotAfter.UTC().Format(time.RFC3339Nano), e.At.UTC().Format(time.RFC3339Nano))
}

// Code returns eventstore.RejectionExpired.
func (e *ExpiredError) Code() string { return eventstore.RejectionExpired }

// Is reports whether target is domain.ErrRejected.
func (e *ExpiredError) Is(target error) bool { return target == domain.ErrRejected }

// encodeEvents turns decided events into events to append, linked to the command.
func encodeEvents(events []domain.Event, d DecodedCommand) ([]eventstore.Event, error) {
	out := make([]eventstore.Event, len(events))
	for i, e := range events {
		typ, body, err := domain.EncodeEvent(e)
		if err != nil {
			return nil, fmt.Errorf("handlers: encode event %d of %s %s: %w", i, d.Type, d.ID, err)
		}
		out[i] = eventstore.Event{
			Type:     typ,
			Body:     body,
			Metadata: eventstore.Metadata{CorrelationID: d.CorrelationID, CausationID: d.ID},
		}
	}
	return out, nil
}

// isPermanentAppendError reports errors that appending the same events again cannot fix:
// the command produced more or larger events than the store can hold.
func isPermanentAppendError(err error) bool {
	return errors.Is(err, eventstore.ErrTooManyEvents) ||
		errors.Is(err, eventstore.ErrItemTooLarge) ||
		errors.Is(err, eventstore.ErrInvalidInput)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
