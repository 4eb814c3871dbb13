package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// Event is a domain event. EventType returns its stable JSON type name, e.g. "BuildCreated".
type Event interface{ EventType() string }

// Command is a request to change one stream.
type Command interface {
	// CommandType returns the stable name of the command, e.g. "CreateBuild".
	CommandType() string
	// StreamID returns the stream the command targets, e.g. "repo:api/foo".
	StreamID() string
	// Validate returns nil, or an error that errors.Is(err, ErrInvalidCommand).
	Validate() error
}

// Env is what a decision may use besides state: the time and an id source.
type Env struct {
	// Now is the time of the decision; events record it in UTC.
	Now time.Time
	// NewID returns random ids (lock ids, job run ids).
	NewID func() uuid.UUID
	// NewTimeID returns time-ordered ids (status event ids), e.g. uuid.NewUUID (v1) or uuid.NewV7.
	NewTimeID func() uuid.UUID
	// DefaultLease is the lease of a lock that asks for none; 0 for no lease.
	DefaultLease time.Duration
}

// at returns Now in UTC. UTC also drops the monotonic reading, so an event's time equals
// itself after a JSON round trip.
func (e Env) at() (time.Time, error) {
	if e.Now.IsZero() {
		return time.Time{}, fmt.Errorf("%w: Now is not set", ErrInvalidEnv)
	}
	now := e.Now.UTC()
	if y := now.Year(); y < 1 || y > 9999 {
		// RFC 3339 cannot write other years, so the event could never be stored.
		return time.Time{}, fmt.Errorf("%w: Now %v is outside years 1 to 9999", ErrInvalidEnv, now)
	}
	return now, nil
}

// randomID returns a fresh random id.
func (e Env) randomID() (uuid.UUID, error) { return callID("NewID", e.NewID) }

// timeID returns a fresh time-ordered id.
func (e Env) timeID() (uuid.UUID, error) { return callID("NewTimeID", e.NewTimeID) }

func callID(name string, f func() uuid.UUID) (uuid.UUID, error) {
	if f == nil {
		return uuid.Nil, fmt.Errorf("%w: %s is not set", ErrInvalidEnv, name)
	}
	id := f()
	if id == uuid.Nil {
		return uuid.Nil, fmt.Errorf("%w: %s returned the nil uuid", ErrInvalidEnv, name)
	}
	return id, nil
}

// Aggregate is the state of one stream.
type Aggregate interface {
	// StreamID returns the id of the stream, e.g. "repo:api/foo".
	StreamID() string
	// Version returns the number of events applied (0 for a new stream).
	Version() int64
	// Apply changes state only, and increments Version.
	Apply(e Event)
	// Handle checks the rules and returns new events (not applied) or an error.
	Handle(c Command, env Env) ([]Event, error)
	// SnapshotSchema returns the version of the state schema MarshalState writes.
	SnapshotSchema() int
	// MarshalState returns the JSON of the state for snapshots.
	MarshalState() ([]byte, error)
}

// aggregate is what every aggregate of this package offers besides Aggregate.
type aggregate interface {
	Aggregate
	kind() string
	restore(state []byte) error
}

// stream holds what every aggregate has: its stream id and version.
type stream struct {
	id      string
	version int64
}

// StreamID returns the id of the stream the aggregate is the state of.
func (s *stream) StreamID() string { return s.id }

// Version returns the number of events applied.
func (s *stream) Version() int64 { return s.version }

// next counts e as the stream's next event and returns the value to apply; nil (an event
// or a nil pointer) is not an event and counts nothing.
func (s *stream) next(e Event) Event {
	e = deref(e)
	if e != nil {
		s.version++
	}
	return e
}

// NewAggregate returns the empty aggregate of a stream, chosen by the stream id's prefix
// (repo:, status:, lock:, job:).
func NewAggregate(streamID string) (Aggregate, error) {
	a, err := newAggregate(streamID)
	if err != nil {
		return nil, err
	}
	return a, nil
}

func newAggregate(streamID string) (aggregate, error) {
	kind, parts, err := ParseStreamID(streamID)
	if err != nil {
		return nil, err
	}
	s := stream{id: streamID}
	switch kind {
	case KindRepo:
		return &Repo{stream: s, user: parts[0], name: parts[1], nextBuildID: 1, builds: map[int]*build{}}, nil
	case KindStatus:
		return &Status{stream: s, pkg: parts[0], env: parts[1], pkgVersion: parts[2], completed: map[string]bool{}}, nil
	case KindLock:
		return &EnvLock{stream: s, env: parts[0]}, nil
	default:
		return &Job{stream: s, jobname: parts[0], gitVersion: parts[1]}, nil
	}
}

// RestoreAggregate rebuilds an aggregate from a snapshot taken at version. It is not a
// constructor: it trusts storage only as far as the state decodes, has the expected schema
// and is consistent with the stream; otherwise it returns an error wrapping
// ErrUnusableSnapshot and the caller replays the full history instead.
func RestoreAggregate(streamID string, version int64, schema int, state []byte) (Aggregate, error) {
	a, err := newAggregate(streamID)
	if err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, fmt.Errorf("%w of %s: negative version %d", ErrUnusableSnapshot, streamID, version)
	}
	if schema != a.SnapshotSchema() {
		return nil, fmt.Errorf("%w of %s: schema %d, want %d", ErrUnusableSnapshot, streamID, schema, a.SnapshotSchema())
	}
	if err := a.restore(state); err != nil {
		return nil, fmt.Errorf("%w of %s: %w", ErrUnusableSnapshot, streamID, err)
	}
	setVersion(a, version)
	return a, nil
}

func setVersion(a aggregate, v int64) {
	switch a := a.(type) {
	case *Repo:
		a.version = v
	case *Status:
		a.version = v
	case *EnvLock:
		a.version = v
	case *Job:
		a.version = v
	}
}

// Rehydrate returns the aggregate of streamID after applying history in order. Every event
// must belong to the kind of stream (a BuildCreated in a lock stream is an error).
func Rehydrate(streamID string, history []Event) (Aggregate, error) {
	a, err := newAggregate(streamID)
	if err != nil {
		return nil, err
	}
	for i, e := range history {
		e = deref(e)
		if e == nil {
			return nil, fmt.Errorf("%w %s: event %d is nil", ErrForeignEvent, streamID, i+1)
		}
		if eventKind(e) != a.kind() {
			return nil, fmt.Errorf("%w %s: event %d is a %s (%T)", ErrForeignEvent, streamID, i+1, e.EventType(), e)
		}
		a.Apply(e)
	}
	return a, nil
}

// validated is a command that passed Validate already; only Decide makes one.
type validated struct{ Command }

// Decide is a.Handle(c, env) for a command that passed Validate already, such as one that
// DecodeCommand returned: it is not validated again. The worker validates a command once,
// when it decodes the message, and decides it on every attempt.
func Decide(a Aggregate, c Command, env Env) ([]Event, error) {
	return a.Handle(validated{c}, env)
}

// begin does what every Handle does first: the command must be present, valid and aimed at
// this stream.
func begin(a Aggregate, c Command) (Command, error) {
	v, checked := c.(validated)
	if checked {
		c = v.Command
	}
	c = deref(c)
	if c == nil {
		return nil, &InvalidCommandError{Reason: "no command"}
	}
	if !checked {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	if target := c.StreamID(); target != a.StreamID() {
		return nil, &WrongStreamError{Command: c.CommandType(), Target: target, Stream: a.StreamID()}
	}
	return c, nil
}

// unsupported is the error for a command this kind of stream does not handle.
func unsupported(a aggregate, c Command) error {
	return &InvalidCommandError{Command: c.CommandType(), Reason: "not handled by " + a.kind() + " streams"}
}

// deref turns a pointer to an event or a command into the value the aggregates switch on,
// so that callers may pass either; it returns nil for nil and for a nil pointer.
func deref[T any](v T) T {
	var none T
	rv := reflect.ValueOf(v)
	switch {
	case !rv.IsValid():
		return none
	case rv.Kind() != reflect.Pointer:
		return v
	case rv.IsNil():
		return none
	}
	if d, ok := rv.Elem().Interface().(T); ok {
		return d
	}
	return v
}

// decodeState decodes a snapshot strictly: a field it does not know means another schema.
func decodeState(state []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after state")
	}
	return nil
}

// jsonMarshal marshals snapshot state.
func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("domain: marshal state: %w", err)
	}
	return b, nil
}
