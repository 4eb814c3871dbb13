package eventstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Streams the stores use for their own items. Appending to them is refused so that an
// application stream can never overwrite a Put event or the store's bookkeeping.
const (
	// PutStreamPrefix starts the stream of every event stored by Put: "put:" + its key.
	PutStreamPrefix = "put:"
	// PutEventType is the type of every event stored by Put.
	PutEventType = "Put"
	// ReservedStreamPrefix starts the names of streams a store keeps for itself.
	ReservedStreamPrefix = "$"
)

// maxListedProblems bounds how many per-event problems one error lists.
const maxListedProblems = 10

// ValidateAppend checks an Append's arguments against the rules every store applies before
// it writes anything: a non-empty, non-reserved stream, expectedVersion >= 0, a command id,
// at most MaxEventsPerAppend events, each with a type and a JSON body. It returns every
// problem joined; each wraps ErrInvalidInput or ErrTooManyEvents. Sizes are checked by the
// store once the records are built (see CheckAppendSize).
func ValidateAppend(stream string, expectedVersion int64, events []Event, cmd CommandRef) error {
	var errs []error
	if err := validateStream(stream); err != nil {
		errs = append(errs, err)
	}
	if expectedVersion < 0 {
		errs = append(errs, fmt.Errorf("%w: expected version %d is negative", ErrInvalidInput, expectedVersion))
	}
	if cmd.ID == "" {
		errs = append(errs, fmt.Errorf("%w: command id is empty", ErrInvalidInput))
	}
	if len(events) > MaxEventsPerAppend {
		errs = append(errs, fmt.Errorf("%w: %d events, at most %d", ErrTooManyEvents, len(events), MaxEventsPerAppend))
	}
	problems := 0
	for i, e := range events {
		var err error
		switch {
		case e.Type == "":
			err = fmt.Errorf("%w: event %d has no type", ErrInvalidInput, i)
		case !json.Valid(e.Body):
			err = fmt.Errorf("%w: event %d (%s) body is not valid JSON", ErrInvalidInput, i, e.Type)
		default:
			continue
		}
		problems++
		if problems <= maxListedProblems {
			errs = append(errs, err)
		}
	}
	if problems > maxListedProblems {
		errs = append(errs, fmt.Errorf("%w: %d more events are invalid", ErrInvalidInput, problems-maxListedProblems))
	}
	return errors.Join(errs...)
}

func validateStream(stream string) error {
	switch {
	case stream == "":
		return fmt.Errorf("%w: stream is empty", ErrInvalidInput)
	case strings.HasPrefix(stream, ReservedStreamPrefix), strings.HasPrefix(stream, PutStreamPrefix):
		return fmt.Errorf("%w: stream %q is reserved for the store (prefixes %q and %q)", ErrInvalidInput, stream, ReservedStreamPrefix, PutStreamPrefix)
	}
	return nil
}

// ValidateBody checks that body is JSON, as Put requires.
func ValidateBody(body json.RawMessage) error {
	if !json.Valid(body) {
		return fmt.Errorf("%w: body is not valid JSON", ErrInvalidInput)
	}
	return nil
}

// ValidateOutcome checks an outcome given to RecordOutcome: a command id and a known status.
func ValidateOutcome(o Outcome) error {
	var errs []error
	if o.CommandID == "" {
		errs = append(errs, fmt.Errorf("%w: outcome has no command id", ErrInvalidInput))
	}
	switch o.Status {
	case OutcomeAccepted, OutcomeRejected, OutcomeInvalid:
	default:
		errs = append(errs, fmt.Errorf("%w: outcome status %q is not %q, %q or %q", ErrInvalidInput, o.Status, OutcomeAccepted, OutcomeRejected, OutcomeInvalid))
	}
	return errors.Join(errs...)
}
