package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"buildledger/domain"
)

// DefaultMaxCommandBytes is the largest command message body accepted unless configured
// otherwise. Commands are small; a larger body is a client bug, and refusing it early keeps
// every event far below DynamoDB's item limit.
const DefaultMaxCommandBytes = 64 << 10

// MaxCommandIDBytes bounds a client's command id: it is the key of the outcome item and,
// on the client side, the SQS deduplication id (at most 128 characters).
const MaxCommandIDBytes = 128

// maxReasonBytes bounds a stored or dead-lettered reason: joined validation problems of a
// hostile body could otherwise grow an outcome item without limit.
const maxReasonBytes = 4 << 10

// Envelope is a command message as it arrives, before decoding: the raw body and what the
// transport knows about it. It is the one command type the watermill command processor
// handles; the domain command inside is chosen by the body's "type".
//
// The body is a JSON object:
//
//	{"type":"Lock","id":"<idempotency key>","metadata":{"correlationId":"…"},"env":"prod","user":"alice"}
//
// with the command's own fields flat at the top level next to type, id and metadata.
type Envelope struct {
	// Body is the message body as received.
	Body []byte
	// MessageID is the transport's message id (the SQS message id, or the watermill UUID a
	// watermill publisher set). It is stable across redeliveries, so it stands in for the
	// command id when the body has none.
	MessageID string
	// CorrelationID is the correlation id the transport carried, if any; the body's
	// metadata.correlationId takes precedence.
	CorrelationID string
}

// DecodedCommand is a command message that decoded and validated.
type DecodedCommand struct {
	// ID is the command id: the body's "id", or the message id when the body has none.
	ID string
	// Type is the command type name, e.g. "Lock".
	Type string
	// CorrelationID links everything this command causes; it defaults to ID.
	CorrelationID string
	// BodyHash identifies what the command asks for (see CommandHash), so that an id reused
	// for another command is noticed.
	BodyHash string
	// Command is the decoded, valid domain command.
	Command domain.Command
}

// InvalidMessageError says why a command message cannot be decided at all. It matches
// domain.ErrInvalidCommand. Its fields hold what could be read before the problem.
type InvalidMessageError struct {
	// CommandID is the command id, when one is known.
	CommandID string
	// CommandType is the type name, when the body has a string "type".
	CommandType string
	// BodyHash is the sha256 of the raw body.
	BodyHash string
	// Reason says what is wrong, in words a CI user can act on.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns the reason prefixed with the package.
func (e *InvalidMessageError) Error() string { return "handlers: invalid command message: " + e.Reason }

// Is reports whether target is domain.ErrInvalidCommand.
func (e *InvalidMessageError) Is(target error) bool { return target == domain.ErrInvalidCommand }

// Unwrap returns the underlying error.
func (e *InvalidMessageError) Unwrap() error { return e.Err }

// envelopeHeader is the part of the body that is not the command's own fields.
type envelopeHeader struct {
	Type     json.RawMessage `json:"type"`
	ID       json.RawMessage `json:"id"`
	Metadata json.RawMessage `json:"metadata"`
}

// DecodeEnvelope decodes and validates a command message. maxBytes <= 0 means
// DefaultMaxCommandBytes. Every failure is an *InvalidMessageError carrying the id and type
// when they could be read, so that an invalid outcome can be recorded for the id.
func DecodeEnvelope(env Envelope, maxBytes int) (DecodedCommand, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxCommandBytes
	}
	rawSum := sha256.Sum256(env.Body)
	inv := &InvalidMessageError{CommandID: env.MessageID, BodyHash: hex.EncodeToString(rawSum[:])}
	fail := func(reason string, err error) (DecodedCommand, error) {
		inv.Reason = truncate(reason, maxReasonBytes)
		inv.Err = err
		return DecodedCommand{}, inv
	}

	if len(env.Body) > maxBytes {
		return fail(fmt.Sprintf("body is %d bytes, at most %d are accepted", len(env.Body), maxBytes), nil)
	}
	if !utf8.Valid(env.Body) {
		return fail("body is not valid UTF-8", nil)
	}
	trimmed := bytes.TrimSpace(env.Body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fail("body is not a JSON object", nil)
	}
	var h envelopeHeader
	if err := json.Unmarshal(trimmed, &h); err != nil {
		return fail("body is not valid JSON: "+err.Error(), err)
	}

	// The id first: with it, even a message whose type is wrong gets an outcome the
	// client can read.
	var problems []string
	if len(h.ID) > 0 && string(h.ID) != "null" {
		var id string
		if err := json.Unmarshal(h.ID, &id); err != nil {
			problems = append(problems, "id: must be a string")
		} else if p := commandIDProblem(id); p != "" {
			problems = append(problems, "id: "+p)
		} else {
			inv.CommandID = id
		}
	}
	var typ string
	if len(h.Type) == 0 || string(h.Type) == "null" {
		problems = append(problems, "type: is missing")
	} else if err := json.Unmarshal(h.Type, &typ); err != nil {
		problems = append(problems, "type: must be a string")
	} else if typ == "" {
		problems = append(problems, "type: must not be empty")
	} else {
		inv.CommandType = typ
	}
	var meta struct {
		CorrelationID string `json:"correlationId"`
	}
	if len(h.Metadata) > 0 && string(h.Metadata) != "null" {
		if err := json.Unmarshal(h.Metadata, &meta); err != nil {
			problems = append(problems, "metadata: must be an object with string fields")
		} else if len(meta.CorrelationID) > MaxCommandIDBytes {
			problems = append(problems, fmt.Sprintf("metadata.correlationId: must be at most %d bytes", MaxCommandIDBytes))
		}
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), nil)
	}

	cmd, err := domain.DecodeCommand(typ, trimmed)
	if err != nil {
		return fail(strings.ReplaceAll(err.Error(), "\n", "; "), err)
	}
	if inv.CommandID == "" {
		return fail("id: is missing and the message has no id to stand in for it", nil)
	}
	hash, err := CommandHash(cmd)
	if err != nil {
		return fail(err.Error(), err)
	}
	d := DecodedCommand{
		ID:            inv.CommandID,
		Type:          typ,
		CorrelationID: meta.CorrelationID,
		BodyHash:      hash,
		Command:       cmd,
	}
	if d.CorrelationID == "" {
		d.CorrelationID = env.CorrelationID
	}
	if d.CorrelationID == "" {
		d.CorrelationID = d.ID
	}
	return d, nil
}

// CommandHash identifies what a command asks for: the sha256 of its type and its canonical
// JSON. It is computed from the decoded command rather than the raw body so that a resend
// with other whitespace, key order or correlation metadata counts as the same command,
// while any change to a field counts as another.
func CommandHash(cmd domain.Command) (string, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return "", fmt.Errorf("handlers: encode %s command: %w", cmd.CommandType(), err)
	}
	h := sha256.New()
	h.Write([]byte(cmd.CommandType()))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// commandIDProblem returns why id is not a usable command id, or "".
func commandIDProblem(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > MaxCommandIDBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxCommandIDBytes)
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return "must not contain white space or control characters"
	}
	return ""
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// errorsAsInvalid returns the *InvalidMessageError in err's chain, if any.
func errorsAsInvalid(err error) (*InvalidMessageError, bool) {
	var inv *InvalidMessageError
	ok := errors.As(err, &inv)
	return inv, ok
}
