package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"buildledger/domain"
	"buildledger/envelope"
	"buildledger/eventstore"
)

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

// existing handles a command id that already has an outcome: the same command again
// re-publishes its committed events; another command under the same id is dead-lettered.
// found is false when the id has no outcome yet.
func (h *CommandHandler) existing(ctx context.Context, d envelope.Decoded, log *zerolog.Logger) (res Result, found bool, err error) {
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
		// Timers are scheduled again with the events: the first delivery may have stopped
		// between its commit and scheduling them, and a timer twice is harmless.
		if err := h.scheduleTimers(ctx, res.Records); err != nil {
			return Result{}, true, err
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
func (h *CommandHandler) duplicate(ctx context.Context, d envelope.Decoded, log *zerolog.Logger) (Result, error) {
	res, found, err := h.existing(ctx, d, log)
	if err == nil && !found {
		err = fmt.Errorf("handlers: %s %s: the store reported a duplicate but holds no outcome", d.Type, d.ID)
	}
	return res, err
}

// invalidDecision stores the invalid outcome of a decoded command that the domain or the
// store refused as malformed. When the id already has an outcome, the message is a
// duplicate (a redelivery of a command handled before) and is handled as one.
func (h *CommandHandler) invalidDecision(ctx context.Context, d envelope.Decoded, cause error, log *zerolog.Logger) (Result, error) {
	inv := &envelope.InvalidError{
		CommandID: d.ID, CommandType: d.Type, BodyHash: d.BodyHash,
		Reason: envelope.Truncate(domain.Reason(cause), envelope.MaxReasonBytes), Err: cause,
	}
	err := h.recordInvalid(ctx, inv, d.SenderID)
	switch {
	case errors.Is(err, eventstore.ErrDuplicateCommand):
		return h.duplicate(ctx, d, log)
	case err != nil:
		return Result{}, fmt.Errorf("handlers: record invalid outcome of %s: %w", inv.CommandID, err)
	}
	return Result{}, h.deadLetterInvalid(inv)
}

// reject stores the rejected outcome with the rule's reason.
func (h *CommandHandler) reject(ctx context.Context, d envelope.Decoded, version int64, cause error, log *zerolog.Logger) (Result, error) {
	o := eventstore.Outcome{
		CommandID:   d.ID,
		CommandType: d.Type,
		Status:      eventstore.OutcomeRejected,
		Stream:      d.Command.StreamID(),
		Version:     version,
		Reason:      envelope.Truncate(domain.Reason(cause), envelope.MaxReasonBytes),
		Code:        domain.RejectionCode(cause),
		BodyHash:    d.BodyHash,
		SenderID:    d.SenderID,
		Identity:    d.Identity,
		Policy:      d.Policy,
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
func (h *CommandHandler) invalid(ctx context.Context, inv *envelope.InvalidError, senderID string) error {
	if inv.CommandID != "" {
		err := h.recordInvalid(ctx, inv, senderID)
		// A duplicate is a redelivery of this message (its outcome is stored) or a body
		// sent under an id that already has an outcome; either way the stored one stands.
		if err != nil && !errors.Is(err, eventstore.ErrDuplicateCommand) {
			return fmt.Errorf("handlers: record invalid outcome of %s: %w", inv.CommandID, err)
		}
	}
	return h.deadLetterInvalid(inv)
}

// recordInvalid stores the invalid outcome of inv's command id, sent by senderID.
func (h *CommandHandler) recordInvalid(ctx context.Context, inv *envelope.InvalidError, senderID string) error {
	return h.cfg.Events.RecordOutcome(ctx, eventstore.Outcome{
		CommandID:   inv.CommandID,
		CommandType: inv.CommandType,
		Status:      eventstore.OutcomeInvalid,
		Reason:      inv.Reason,
		BodyHash:    inv.BodyHash,
		SenderID:    senderID,
		RecordedAt:  h.cfg.Clock().UTC(),
	})
}

// deadLetterInvalid counts and logs an invalid message whose outcome is stored, and
// returns the error that sends it to the dead-letter queue.
func (h *CommandHandler) deadLetterInvalid(inv *envelope.InvalidError) error {
	h.metrics.Commands.WithLabelValues(LabelInvalid).Inc()
	h.metrics.DeadLettered.WithLabelValues("commands", DeadLetterInvalid).Inc()
	h.log.Warn().Str("command_id", inv.CommandID).Str("command_type", inv.CommandType).
		Str("reason", inv.Reason).Msg("invalid command message; dead-lettering it")
	return &DeadLetterError{CommandID: inv.CommandID, Kind: DeadLetterInvalid, Reason: inv.Reason, Err: inv}
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
