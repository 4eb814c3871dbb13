// Package eventstore is the event store port of buildledger: streams of versioned,
// timestamp-keyed JSON events, appended with optimistic concurrency and one outcome item per
// command, so that every command takes effect once. It depends on nothing but the standard
// library; the DynamoDB adapter lives in eventstore/dynamo and an in-memory store in
// eventstore/memory. Every store passes the conformance suite in eventstore/eventstoretest.
package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Limits that the store enforces before any write, so that over-limit input is a clear error
// and never a partial or silently truncated write. They are DynamoDB's: a transaction holds at
// most 100 items (the events of one command plus its outcome item), an item at most 400 KB.
const (
	// MaxEventsPerAppend is the most events one Append may write.
	MaxEventsPerAppend = 99
	// MaxItemBytes is the largest stored item, attribute names and values included.
	MaxItemBytes = 400 * 1024
)

var (
	// ErrVersionConflict means another writer appended to the stream first: reload and decide again.
	ErrVersionConflict = errors.New("eventstore: version conflict")
	// ErrDuplicateCommand means the command id already has an outcome: nothing was written.
	ErrDuplicateCommand = errors.New("eventstore: duplicate command")
	// ErrTooManyEvents means one Append carried more than MaxEventsPerAppend events.
	ErrTooManyEvents = errors.New("eventstore: too many events in one append")
	// ErrItemTooLarge means an event or outcome would exceed MaxItemBytes once stored.
	ErrItemTooLarge = errors.New("eventstore: item too large")
	// ErrInvalidInput means an argument is malformed (empty stream, bad version, body not JSON).
	ErrInvalidInput = errors.New("eventstore: invalid input")
	// ErrNotFound means no outcome is stored for a command id.
	ErrNotFound = errors.New("eventstore: not found")
)

// ConflictError carries the stream and the version an append expected when it lost a race.
type ConflictError struct {
	Stream          string
	ExpectedVersion int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventstore: version conflict on %s at %d", e.Stream, e.ExpectedVersion)
}

// Is reports ErrVersionConflict as the sentinel this error stands for.
func (e *ConflictError) Is(target error) bool { return target == ErrVersionConflict }

// DuplicateCommandError carries the command id whose outcome already exists.
type DuplicateCommandError struct {
	CommandID string
}

func (e *DuplicateCommandError) Error() string {
	return fmt.Sprintf("eventstore: duplicate command %s", e.CommandID)
}

// Is reports ErrDuplicateCommand as the sentinel this error stands for.
func (e *DuplicateCommandError) Is(target error) bool { return target == ErrDuplicateCommand }

// Metadata links an event to the request that caused it.
type Metadata struct {
	// CorrelationID is shared by everything one client request caused.
	CorrelationID string `json:"correlationId,omitempty"`
	// CausationID is the id of the message that directly caused the event.
	CausationID string `json:"causationId,omitempty"`
	// SenderID is the principal the transport vouched for as the sender of the command
	// that appended the event (SQS's SenderId); empty for events written before it was
	// recorded, or by the worker itself.
	SenderID string `json:"senderId,omitempty"`
	// Identity is the verified identity of the command's sender; zero when the command
	// carried no token.
	Identity Identity `json:"identity,omitzero"`
}

// Event is an event to append: its type name, its JSON body and its metadata.
type Event struct {
	Type     string
	Body     json.RawMessage
	Metadata Metadata
}

// Record is a stored event: the storage-neutral envelope every adapter reads and writes.
type Record struct {
	// Stream is the stream id, e.g. "repo:api/foo".
	Stream string `json:"stream"`
	// Version is the event's position in its stream: 1, 2, …, without gaps.
	Version int64 `json:"version"`
	// Key is the timestamp key (see NewKeyGenerator): unique, sortable, in append order.
	Key string `json:"key"`
	// Type is the event type name.
	Type string `json:"type"`
	// Body is the event as JSON.
	Body json.RawMessage `json:"body"`
	// CommandID is the id of the command whose append wrote the event.
	CommandID string `json:"commandId,omitempty"`
	// Metadata links the event to its cause.
	Metadata Metadata `json:"metadata"`
	// RecordedAt is when the store accepted the event.
	RecordedAt time.Time `json:"recordedAt"`
}

// Outcome statuses.
const (
	// OutcomeAccepted: the command's events were appended.
	OutcomeAccepted = "accepted"
	// OutcomeRejected: a domain rule refused the command; Reason says why.
	OutcomeRejected = "rejected"
	// OutcomeInvalid: the command could not be decoded or validated; Reason is the error.
	OutcomeInvalid = "invalid"
)

// RejectionExpired is the code of a command rejected because its deadline (notAfter) had
// passed before it was decided, or because its sender gave up on it first: it never takes
// effect.
const RejectionExpired = "expired"

// Outcome is what became of one command id. Accepted outcomes are written by Append in the
// same transaction as the events; rejected and invalid ones by RecordOutcome.
type Outcome struct {
	// CommandID is the client's idempotency key.
	CommandID string `json:"commandId"`
	// CommandType is the command's type name, when known.
	CommandType string `json:"commandType,omitempty"`
	// Status is OutcomeAccepted, OutcomeRejected or OutcomeInvalid.
	Status string `json:"status"`
	// Stream is the stream the command targeted, when known.
	Stream string `json:"stream,omitempty"`
	// FirstVersion and LastVersion are the versions appended (accepted with events only);
	// an accepted command that raised no event has both 0 and Version set to the stream version it saw.
	FirstVersion int64 `json:"firstVersion,omitempty"`
	// LastVersion is the last version the command appended.
	LastVersion int64 `json:"lastVersion,omitempty"`
	// Version is the stream version after the command: what a reader waits for.
	Version int64 `json:"version"`
	// Reason says why a command was rejected or invalid, in words for people.
	Reason string `json:"reason,omitempty"`
	// Code is the stable, machine-readable kind of a rejection (RejectionExpired,
	// "locked", "not_holder", …): callers decide on it, never on Reason. Outcomes stored
	// before codes existed have none.
	Code string `json:"code,omitempty"`
	// BodyHash identifies the command body, so that an id reused with another body is noticed.
	BodyHash string `json:"bodyHash,omitempty"`
	// SenderID is the principal the transport vouched for as the command's sender (SQS's
	// SenderId); empty when unknown, and for outcomes stored before it was recorded.
	SenderID string `json:"senderId,omitempty"`
	// Identity is the verified identity of the command's sender; zero when the command
	// carried no token, or its token was refused.
	Identity Identity `json:"identity,omitzero"`
	// Policy is the hash of the access policy the command was decided under (audit or
	// enforce); empty when none was consulted, and for outcomes stored before policies.
	Policy string `json:"policy,omitempty"`
	// RecordedAt is when the outcome was stored.
	RecordedAt time.Time `json:"recordedAt"`
}

// AcceptedOutcome is the outcome an Append of records to stream, found at expectedVersion,
// stores for cmd. Every Store writes it; callers that need it before reading it back (to
// answer a client at once) build the same value.
func AcceptedOutcome(cmd CommandRef, stream string, expectedVersion int64, records []Record, at time.Time) Outcome {
	o := Outcome{
		CommandID:   cmd.ID,
		CommandType: cmd.Type,
		Status:      OutcomeAccepted,
		Stream:      stream,
		Version:     expectedVersion + int64(len(records)),
		BodyHash:    cmd.BodyHash,
		SenderID:    cmd.SenderID,
		Identity:    cmd.Identity,
		Policy:      cmd.Policy,
		RecordedAt:  at,
	}
	if len(records) > 0 {
		o.FirstVersion, o.LastVersion = records[0].Version, records[len(records)-1].Version
	}
	return o
}

// CommandRef describes the command an Append carries out; its id makes the append happen once.
type CommandRef struct {
	// ID is the command id; required.
	ID string
	// Type is the command type name.
	Type string
	// BodyHash identifies the command body (optional).
	BodyHash string
	// SenderID is the command's sender as the transport knows it (optional); the accepted
	// outcome records it.
	SenderID string
	// Identity is the sender's verified identity (optional); the accepted outcome records
	// it.
	Identity Identity
	// Policy is the hash of the access policy the command was decided under (optional);
	// the accepted outcome records it.
	Policy string
}

// Page is one page of a time-ordered read.
type Page struct {
	// Records are in timestamp key order.
	Records []Record
	// Next is the key to pass as `after` for the following page; empty when there is no more.
	Next string
}

// Store is the event store port.
type Store interface {
	// Append writes events to the end of stream, which must be at expectedVersion (0 for a new
	// stream), together with the command's accepted outcome, all or nothing. A lost race is
	// an error that errors.Is ErrVersionConflict; a command id that already has an outcome is
	// one that errors.Is ErrDuplicateCommand, and nothing is written. Appending no events
	// records the outcome alone (a command that changed nothing).
	Append(ctx context.Context, stream string, expectedVersion int64, events []Event, cmd CommandRef) ([]Record, error)
	// Load returns the events of stream with version >= fromVersion, in version order,
	// however large the stream is.
	Load(ctx context.Context, stream string, fromVersion int64) ([]Record, error)
	// LoadRange returns the events of stream with fromVersion <= version <= toVersion.
	LoadRange(ctx context.Context, stream string, fromVersion, toVersion int64) ([]Record, error)
	// Version returns the stream's current version (0 when it has no events).
	Version(ctx context.Context, stream string) (int64, error)
	// ReadAll returns up to limit events of every stream in timestamp key order, starting
	// after the key `after` ("" for the beginning).
	ReadAll(ctx context.Context, after string, limit int) (Page, error)
	// Put stores one event outside any stream, as dynamodb-eventstore does, and returns its
	// timestamp key. Body must be JSON.
	Put(ctx context.Context, body json.RawMessage) (string, error)
	// RecordOutcome stores the outcome of a command that appended nothing (rejected,
	// invalid). An id that already has an outcome is ErrDuplicateCommand.
	RecordOutcome(ctx context.Context, o Outcome) error
	// Outcome returns the outcome stored for a command id, or ErrNotFound.
	Outcome(ctx context.Context, commandID string) (Outcome, error)
}
