package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
	"buildledger/internal/settings"
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
	// MaxCommandBytes is the largest accepted message body; default envelope.DefaultMaxBytes.
	MaxCommandBytes int
	// DefaultLease is the lease of a lock that asks for none, given to every decision
	// (domain.Env.DefaultLease): 0, the default, for no lease; otherwise from
	// domain.MinLease to domain.MaxLease.
	DefaultLease time.Duration
	// Identities verifies the OIDC ID tokens commands carry; nil refuses every token
	// (rejected, code unauthenticated: no issuer is trusted). Commands without a token
	// are decided as before, with the transport's sender recorded.
	Identities IdentityVerifier
	// Policy says which senders may carry out which commands (internal/policy's Guard,
	// adapted, is the worker's); nil consults none, as before policies.
	Policy AccessPolicy
	// Timers schedules the lease timers of committed events; nil schedules none (leases
	// then end only when a later decision on their lock settles it). The worker sets its
	// own.
	Timers TimerScheduler
	// Clock is the time given to decisions; default time.Now.
	Clock func() time.Time
	// ClockCheck, when set, is asked before every decision; while it refuses, the worker
	// decides nothing (a transient error). Nil decides whatever the clock says.
	ClockCheck ClockCheck
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
	settings.Default[snapshots.Policy](&c.SnapshotPolicy, snapshots.EveryN(DefaultSnapshotEvery))
	settings.DefaultUnlessPositive(&c.SnapshotTimeout, DefaultSnapshotTimeout)
	settings.Default(&c.MaxConflictRetries, DefaultMaxConflictRetries)
	settings.Default(&c.ConflictBackoff, DefaultConflictBackoff)
	settings.Default(&c.AggregateCacheSize, DefaultAggregateCacheSize)
	settings.DefaultUnlessPositive(&c.MaxCommandBytes, envelope.DefaultMaxBytes)
	settings.DefaultFunc(&c.Clock, time.Now)
	settings.DefaultFunc(&c.NewID, uuid.New)
	settings.DefaultFunc(&c.NewTimeID, func() uuid.UUID { return uuid.Must(uuid.NewUUID()) })
}

// Validate reports every problem of the configuration.
func (c CommandHandlerConfig) Validate() error {
	p := settings.Wrapped("handlers: command handler config")
	p.If(c.Events == nil, "Events (event store) is required")
	p.If(c.Publisher == nil, "Publisher is required")
	settings.NotNegative(p, "MaxConflictRetries", c.MaxConflictRetries)
	settings.NotNegative(p, "ConflictBackoff", c.ConflictBackoff)
	p.If(c.DefaultLease != 0 && (c.DefaultLease < domain.MinLease || c.DefaultLease > domain.MaxLease), "DefaultLease %v is outside %v to %v (0 for none)", c.DefaultLease, domain.MinLease, domain.MaxLease)
	return p.Err()
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

// CommandHandler decides command messages: it decodes the message, has the aggregate
// repository carry the command out (load the aggregate, let the domain decide, append the
// events together with the command's outcome) and records what became of it: the events
// published, a rejection or an invalid outcome stored.
//
// Every command takes effect once: the outcome item is written in the same transaction as
// the events, so a redelivered or resent command finds it and only re-publishes.
type CommandHandler struct {
	handlerBase
	cfg        CommandHandlerConfig
	aggregates *Aggregates
}

// NewCommandHandler returns a CommandHandler for a validated configuration.
func NewCommandHandler(cfg CommandHandlerConfig) (*CommandHandler, error) {
	base, err := prepare(&cfg, cfg.Logger, cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &CommandHandler{handlerBase: base, cfg: cfg, aggregates: newAggregates(cfg, base.metrics)}, nil
}

// Wait blocks until the snapshots being taken in the background are stored or failed.
func (h *CommandHandler) Wait() { h.aggregates.Wait() }

// Handle decides one command message. A nil error means the message may be acked: the
// outcome is durable and the events are published. A *DeadLetterError means the message
// can never succeed and belongs in the dead-letter queue (its invalid outcome, when an id
// is known, is already stored). Any other error is transient: nothing wrong was written,
// and handling the same message again is safe.
func (h *CommandHandler) Handle(ctx context.Context, env Envelope) (Result, error) {
	d, err := envelope.Decode(env, h.cfg.MaxCommandBytes)
	if err != nil {
		return h.undecodable(ctx, err, env.SenderID)
	}
	refused, err := h.authenticate(ctx, &d)
	switch {
	case err != nil:
		return Result{}, err
	case refused != nil:
		return h.rejectUndecided(ctx, d, refused)
	}
	if forbidden := h.authorize(&d); forbidden != nil {
		return h.rejectUndecided(ctx, d, forbidden)
	}
	return h.handle(ctx, d)
}

// handle carries out a decoded command and records what became of it.
func (h *CommandHandler) handle(ctx context.Context, d envelope.Decoded) (Result, error) {
	if err := h.admitClock(); err != nil {
		return Result{}, err
	}
	log := h.commandLogger(d)
	// No outcome is read first: the outcome item's condition, in the append or in
	// RecordOutcome, turns a command id that was used before into ErrDuplicateCommand, and
	// that is when the stored outcome is read and its events re-published.
	up, err := h.aggregates.Update(ctx, d.Command.StreamID(), Change{
		Command:  appendCommand(d),
		Metadata: eventstore.Metadata{CorrelationID: d.CorrelationID, CausationID: d.ID, SenderID: d.SenderID, Identity: d.Identity},
		Decide:   h.decide(d),
		Log:      &log,
	})
	return h.record(ctx, d, up, err, &log)
}

// appendCommand is what an append of d's events records about d.
func appendCommand(d envelope.Decoded) eventstore.CommandRef {
	return eventstore.CommandRef{ID: d.ID, Type: d.Type, BodyHash: d.BodyHash, SenderID: d.SenderID, Identity: d.Identity, Policy: d.Policy}
}

// undecodable handles a message that did not decode: its invalid outcome is stored, with
// the transport's sender, when an id is known, and it goes to the dead-letter queue.
func (h *CommandHandler) undecodable(ctx context.Context, err error, senderID string) (Result, error) {
	var inv *envelope.InvalidError
	if !errors.As(err, &inv) {
		return Result{}, err
	}
	return Result{}, h.invalid(ctx, inv, senderID)
}

// decide is the decision of d on one attempt, at the clock's time then.
func (h *CommandHandler) decide(d envelope.Decoded) Decide {
	return func(agg domain.Aggregate) ([]domain.Event, error) {
		now := h.cfg.Clock()
		if !d.NotAfter.IsZero() && now.After(d.NotAfter) {
			// Checked on every attempt: conflict retries and a worker that was paused take
			// time, and a command must never take effect after its sender gave up on it.
			return nil, &ExpiredError{NotAfter: d.NotAfter, At: now}
		}
		// Decoding validated the command; deciding does not again.
		return domain.Decide(agg, d.Command, domain.Env{Now: now, NewID: h.cfg.NewID, NewTimeID: h.cfg.NewTimeID, DefaultLease: h.cfg.DefaultLease})
	}
}

// record stores and reports what became of d after the repository's update.
func (h *CommandHandler) record(ctx context.Context, d envelope.Decoded, up Updated, err error, log *zerolog.Logger) (Result, error) {
	var appendErr *AppendError
	switch {
	case err == nil && up.Refused == nil:
		return h.accepted(ctx, d, up, log)
	case err == nil:
		return h.refused(ctx, d, up, log)
	case errors.Is(err, eventstore.ErrDuplicateCommand):
		// A redelivery, a resend, or another delivery of the same command that committed
		// first.
		return h.duplicate(ctx, d, log)
	case errors.As(err, &appendErr) && isPermanentAppendError(err):
		return h.invalidDecision(ctx, d, appendErr.Err, log)
	case errors.As(err, &appendErr):
		return Result{}, fmt.Errorf("handlers: append %s %s to %s: %w", d.Type, d.ID, appendErr.Stream, appendErr.Err)
	}
	return Result{}, err
}

// accepted publishes the events of an accepted command and returns its outcome.
func (h *CommandHandler) accepted(ctx context.Context, d envelope.Decoded, up Updated, log *zerolog.Logger) (Result, error) {
	at := h.cfg.Clock().UTC()
	if len(up.Records) > 0 {
		at = up.Records[0].RecordedAt
	}
	outcome := eventstore.AcceptedOutcome(appendCommand(d), d.Command.StreamID(), up.Version, up.Records, at)
	res := Result{Outcome: outcome, Records: up.Records}
	if err := h.scheduleTimers(ctx, up.Records); err != nil {
		// As for publishing: a redelivery finds the outcome and schedules again.
		return res, err
	}
	if err := h.cfg.Publisher.Publish(ctx, up.Records); err != nil {
		// The events are durable; a redelivery finds the outcome and publishes again.
		return res, fmt.Errorf("handlers: publish events of %s %s: %w", d.Type, d.ID, err)
	}
	h.metrics.Commands.WithLabelValues(LabelAccepted).Inc()
	log.Debug().Int64("version", outcome.Version).Int("events", len(up.Records)).Msg("command accepted")
	return res, nil
}

// refused records a decision that carried nothing out: a rule's rejection, a command the
// domain found invalid, or a failure to decide at all.
func (h *CommandHandler) refused(ctx context.Context, d envelope.Decoded, up Updated, log *zerolog.Logger) (Result, error) {
	switch err := up.Refused; {
	case errors.Is(err, domain.ErrRejected):
		return h.reject(ctx, d, up.Version, err, log)
	case errors.Is(err, domain.ErrInvalidCommand):
		return h.invalidDecision(ctx, d, err, log)
	}
	// A command handled before, whose stream has moved on since, is a duplicate whatever
	// deciding it now says.
	if res, found, err := h.existing(ctx, d, log); found || err != nil {
		return res, err
	}
	// Not the message's fault (a routing or environment bug, a corrupt stream): fail the
	// delivery so that SQS retries it and, in the end, dead-letters it.
	return Result{}, fmt.Errorf("handlers: decide %s %s on %s: %w", d.Type, d.ID, d.Command.StreamID(), up.Refused)
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
