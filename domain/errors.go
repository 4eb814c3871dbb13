package domain

import (
	"errors"
	"strings"
)

// ErrInvalidCommand wraps every validation failure: the command cannot be decided at all.
var ErrInvalidCommand = errors.New("domain: invalid command")

// ErrRejected is matched by every rule rejection: the command was valid but the state says no.
var ErrRejected = errors.New("domain: command rejected")

// rejection makes the rule rejection it is embedded in match ErrRejected.
type rejection struct{}

// Is reports whether target is ErrRejected.
func (rejection) Is(target error) bool { return target == ErrRejected }

// ErrInvalidStreamID is wrapped when a stream id does not name an aggregate unambiguously.
var ErrInvalidStreamID = errors.New("domain: invalid stream id")

// ErrWrongStream is matched when a command is handed to an aggregate of another stream.
var ErrWrongStream = errors.New("domain: command targets another stream")

// ErrInvalidEnv is wrapped when the Env given to Handle lacks what the decision needs.
var ErrInvalidEnv = errors.New("domain: invalid env")

// ErrUnknownEventType is wrapped when an event type name or Go type is not in the registry.
var ErrUnknownEventType = errors.New("domain: unknown event type")

// ErrForeignEvent is wrapped when a history holds an event that belongs to another kind of stream.
var ErrForeignEvent = errors.New("domain: event does not belong to stream")

// ErrUnusableSnapshot is wrapped when a snapshot has another schema or does not decode;
// callers fall back to a full replay.
var ErrUnusableSnapshot = errors.New("domain: unusable snapshot")

// InvalidCommandError describes one problem with a command; it matches ErrInvalidCommand.
type InvalidCommandError struct {
	// Command is the command type name, empty when the type itself is unknown.
	Command string
	// Field is the JSON path of the offending field, empty when the problem is the whole command.
	Field string
	// Reason says what is wrong, in words a CI user can act on.
	Reason string
	// Err is the underlying decoding error, if any.
	Err error
}

// Error returns e.g. "domain: invalid command: CreateBuild: browsers: must not be empty".
func (e *InvalidCommandError) Error() string {
	var b strings.Builder
	b.WriteString("domain: invalid command")
	if e.Command != "" {
		b.WriteString(": " + e.Command)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Reason)
	return b.String()
}

// Is reports whether target is ErrInvalidCommand.
func (e *InvalidCommandError) Is(target error) bool { return target == ErrInvalidCommand }

// Unwrap returns the underlying decoding error, if any.
func (e *InvalidCommandError) Unwrap() error { return e.Err }

// WrongStreamError is returned by Handle when a command targets another stream than the
// aggregate's; it means a routing bug in the caller, not a bad request.
type WrongStreamError struct {
	// Command is the command type name.
	Command string
	// Target is the stream the command targets.
	Target string
	// Stream is the stream of the aggregate that was asked to handle it.
	Stream string
}

// Error names both streams.
func (e *WrongStreamError) Error() string {
	return "domain: " + e.Command + " targets " + e.Target + ", not " + e.Stream
}

// Is reports whether target is ErrWrongStream.
func (e *WrongStreamError) Is(target error) bool { return target == ErrWrongStream }

// problems collects every validation problem of a command so that a caller sees all of
// them at once, not one per round trip.
type problems struct {
	command string
	errs    []error
}

func newProblems(command string) *problems { return &problems{command: command} }

// check records reason for field unless reason is empty (no problem).
func (p *problems) check(field, reason string) {
	if reason != "" {
		p.errs = append(p.errs, &InvalidCommandError{Command: p.command, Field: field, Reason: reason})
	}
}

func (p *problems) err() error { return errors.Join(p.errs...) }
