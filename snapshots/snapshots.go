// Package snapshots is the snapshot store port of buildledger: the latest known state of an
// aggregate at a stream version, so that loading a long-lived aggregate reads the snapshot and
// only the events after it. Snapshots are an optimisation: a missing, stale, foreign-schema or
// undecodable snapshot only means a longer replay, never a failed load. The DynamoDB adapter
// lives in snapshots/dynamo and an in-memory store in snapshots/memory; both pass the
// conformance suite in snapshots/snapshotstest.
package snapshots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound means there is no usable snapshot for the aggregate.
	ErrNotFound = errors.New("snapshots: not found")
	// ErrInvalidInput means a snapshot to store is malformed (empty id, version < 1, state not JSON).
	ErrInvalidInput = errors.New("snapshots: invalid input")
)

// UnusableError reports a stored snapshot that cannot be used: another schema, or state that
// does not decode. It errors.Is ErrNotFound, so callers that only fall back to a full replay
// need no special case, while callers that log can say why.
type UnusableError struct {
	// AggregateID is the snapshot's aggregate.
	AggregateID string
	// Version is the stream version the snapshot was taken at.
	Version int64
	// Reason says what is wrong with it.
	Reason string
}

func (e *UnusableError) Error() string {
	return fmt.Sprintf("snapshots: unusable snapshot of %s at %d: %s", e.AggregateID, e.Version, e.Reason)
}

// Is reports ErrNotFound: an unusable snapshot is treated as absent.
func (e *UnusableError) Is(target error) bool { return target == ErrNotFound }

// Snapshot is an aggregate's state at a stream version, as dynamodb-snapshot-store stores it
// (aggregateId, createdAt, state) plus the version and the state's schema.
type Snapshot struct {
	// AggregateID identifies the aggregate (its stream id).
	AggregateID string `json:"aggregateId"`
	// Version is the stream version the state reflects.
	Version int64 `json:"version"`
	// Schema is the version of the state's layout; a reader expecting another ignores it.
	Schema int `json:"schema"`
	// CreatedAt is when the snapshot was taken.
	CreatedAt time.Time `json:"createdAt"`
	// State is the aggregate's state as JSON.
	State json.RawMessage `json:"state"`
}

// Store is the snapshot store port.
type Store interface {
	// Store writes a snapshot unless one of the same or a newer version is already stored;
	// that case is not an error (the stored one is at least as useful).
	Store(ctx context.Context, s Snapshot) error
	// Fetch returns the snapshot of aggregateID if its schema is schema and its state is
	// JSON. Otherwise it returns an error that errors.Is ErrNotFound (an *UnusableError when
	// one is stored but cannot be used).
	Fetch(ctx context.Context, aggregateID string, schema int) (Snapshot, error)
}

// Policy decides when to take a snapshot.
type Policy interface {
	// Due reports whether a snapshot should be taken after a stream moved from version
	// before to version after.
	Due(before, after int64) bool
}

// EveryN takes a snapshot each time a stream crosses a multiple of N events. N <= 0 never does.
type EveryN int64

// Due reports whether a multiple of N lies in (before, after].
func (n EveryN) Due(before, after int64) bool {
	if n <= 0 || after <= before {
		return false
	}
	return after/int64(n) > before/int64(n)
}

// Validate checks a snapshot before it is stored.
func Validate(s Snapshot) error {
	var errs []error
	if s.AggregateID == "" {
		errs = append(errs, errors.New("aggregateId is empty"))
	}
	if s.Version < 1 {
		errs = append(errs, fmt.Errorf("version %d is below 1", s.Version))
	}
	if !json.Valid(s.State) {
		errs = append(errs, errors.New("state is not JSON"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidInput, errors.Join(errs...))
	}
	return nil
}
