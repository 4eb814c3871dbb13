package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
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

// maxScanBytes bounds how much of an oversized body is read to find its id.
const maxScanBytes = 1 << 20

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
	// BodyHash identifies what the command asks for (see domain.CommandHash), so that an
	// id reused for another command is noticed.
	BodyHash string
	// NotAfter is the command's deadline, zero when it has none: after it, the command
	// never takes effect.
	NotAfter time.Time
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

// Envelope keys: everything else at the top level of a command message is the command's.
const (
	keyType     = "type"
	keyID       = "id"
	keyMetadata = "metadata"
	keyNotAfter = "notAfter"
)

// metadataKeys are the keys metadata may have.
var metadataKeys = []string{"correlationId"}

// DecodeEnvelope decodes and validates a command message. maxBytes <= 0 means
// DefaultMaxCommandBytes. Every failure is an *InvalidMessageError carrying the id and type
// when they could be read, so that an invalid outcome can be recorded for the id.
//
// Decoding is strict, as a filter in front of the queue would read the message: keys
// match exactly (never case-folded), a key appears once, and a key that is neither the
// envelope's nor a field of the command is refused with its name.
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
		// The outcome belongs under the client's id, which the client polls; a body that
		// is too large to decide can still say which command it was.
		if id, ok := scanID(env.Body); ok {
			inv.CommandID = id
		}
		return fail(fmt.Sprintf("body is %d bytes, at most %d are accepted", len(env.Body), maxBytes), nil)
	}
	if !utf8.Valid(env.Body) {
		return fail("body is not valid UTF-8", nil)
	}
	trimmed := bytes.TrimSpace(env.Body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fail("body is not a JSON object", nil)
	}
	fields, err := domain.ObjectMembers(trimmed)
	switch {
	case errors.Is(err, domain.ErrMalformedJSON):
		return fail("body is not valid JSON: "+strings.TrimPrefix(err.Error(), domain.ErrMalformedJSON.Error()+": "), err)
	case err != nil:
		return fail("body: "+err.Error(), err)
	}

	// The id first: with it, even a message whose type is wrong gets an outcome the
	// client can read.
	var problems []string
	if raw, ok := take(fields, keyID); ok {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			problems = append(problems, "id: must be a string")
		} else if p := commandIDProblem(id); p != "" {
			problems = append(problems, "id: "+p)
		} else {
			inv.CommandID = id
		}
	}
	var typ string
	if raw, ok := take(fields, keyType); !ok {
		problems = append(problems, "type: is missing")
	} else if err := json.Unmarshal(raw, &typ); err != nil {
		problems = append(problems, "type: must be a string")
	} else if typ == "" {
		problems = append(problems, "type: must not be empty")
	} else {
		inv.CommandType = typ
	}
	correlationID, problem := decodeMetadata(fields)
	if problem != "" {
		problems = append(problems, problem)
	}
	notAfter, problem := decodeNotAfter(fields)
	if problem != "" {
		problems = append(problems, problem)
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "), nil)
	}

	cmd, err := domain.DecodeCommandFields(typ, fields)
	if err != nil {
		return fail(strings.ReplaceAll(err.Error(), "\n", "; "), err)
	}
	if inv.CommandID == "" {
		return fail("id: is missing and the message has no id to stand in for it", nil)
	}
	hash, err := domain.CommandHash(cmd)
	if err != nil {
		return fail(err.Error(), err)
	}
	d := DecodedCommand{
		ID:            inv.CommandID,
		Type:          typ,
		CorrelationID: correlationID,
		BodyHash:      hash,
		NotAfter:      notAfter,
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

// take removes key from fields and returns its value; a JSON null counts as absent.
func take(fields map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	raw, ok := fields[key]
	delete(fields, key)
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// decodeMetadata takes the metadata object out of fields and returns its correlation id,
// or a problem.
func decodeMetadata(fields map[string]json.RawMessage) (correlationID, problem string) {
	raw, ok := take(fields, keyMetadata)
	if !ok {
		return "", ""
	}
	meta, err := domain.ObjectMembers(raw)
	if err != nil {
		return "", "metadata: " + err.Error()
	}
	for k := range meta {
		if !slices.Contains(metadataKeys, k) {
			return "", fmt.Sprintf("metadata.%s: unknown field (metadata may have %s)", k, strings.Join(metadataKeys, ", "))
		}
	}
	if raw, ok := take(meta, "correlationId"); ok {
		if err := json.Unmarshal(raw, &correlationID); err != nil {
			return "", "metadata.correlationId: must be a string"
		}
		if len(correlationID) > MaxCommandIDBytes {
			return "", fmt.Sprintf("metadata.correlationId: must be at most %d bytes", MaxCommandIDBytes)
		}
	}
	return correlationID, ""
}

// decodeNotAfter takes the deadline out of fields, or returns a problem.
func decodeNotAfter(fields map[string]json.RawMessage) (time.Time, string) {
	raw, ok := take(fields, keyNotAfter)
	if !ok {
		return time.Time{}, ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, "notAfter: must be a string, an RFC 3339 time"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Sprintf("notAfter: %q is not an RFC 3339 time such as 2026-12-01T14:05:00Z", s)
	}
	return t, ""
}

// scanID finds the top-level "id" of a body too large to decode, reading tokens only as far
// as the id, and at most the first maxScanBytes: the id is usually first. A body whose id
// cannot be found that way, or is not a usable id, has none.
func scanID(body []byte) (string, bool) {
	dec := json.NewDecoder(io.LimitReader(bytes.NewReader(body), maxScanBytes))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if key, _ := tok.(string); key == keyID {
			var id string
			if err := dec.Decode(&id); err != nil || commandIDProblem(id) != "" {
				return "", false
			}
			return id, true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
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
