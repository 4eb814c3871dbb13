package envelope

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
	"unicode/utf8"

	"buildledger/domain"
	"buildledger/eventstore"
)

// maxScanBytes bounds how much of an oversized body is read to find its id.
const maxScanBytes = 1 << 20

// Message is a command message as it arrives, before decoding: the raw body and what the
// transport knows about it.
type Message struct {
	// Body is the message body as received.
	Body []byte
	// MessageID is the transport's message id (the SQS message id, or the watermill UUID a
	// watermill publisher set). It is stable across redeliveries, so it stands in for the
	// command id when the body has none.
	MessageID string
	// CorrelationID is the correlation id the transport carried, if any; the body's
	// metadata.correlationId takes precedence.
	CorrelationID string
	// SenderID is the sender principal the transport vouches for (SQS's SenderId system
	// attribute), never anything the sender wrote itself; empty when unknown.
	SenderID string
}

// Decoded is a command message that decoded and validated.
type Decoded struct {
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
	// IDToken is the OIDC ID token the message carried (auth.idToken), unverified; empty
	// for none. It is a credential: the worker verifies it and keeps only the claims.
	IDToken string
	// SenderID is the transport's sender principal (Message.SenderID).
	SenderID string
	// Identity is the sender's identity once the worker verified IDToken; zero before,
	// and when the message carried no token.
	Identity eventstore.Identity
	// Policy is the hash of the access policy the worker decided the command under; empty
	// when none was consulted.
	Policy string
}

// InvalidError says why a command message cannot be decided at all. It matches
// domain.ErrInvalidCommand. Its fields hold what could be read before the problem.
type InvalidError struct {
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
func (e *InvalidError) Error() string { return "envelope: invalid command message: " + e.Reason }

// Is reports whether target is domain.ErrInvalidCommand.
func (e *InvalidError) Is(target error) bool { return target == domain.ErrInvalidCommand }

// Unwrap returns the underlying error.
func (e *InvalidError) Unwrap() error { return e.Err }

// Decode decodes and validates a command message. maxBytes <= 0 means DefaultMaxBytes.
// Every failure is an *InvalidError carrying the id and type when they could be read, so
// that an invalid outcome can be recorded for the id.
//
// Decoding is strict, as a filter in front of the queue would read the message: keys
// match exactly (never case-folded), a key appears once, and a key that is neither the
// envelope's nor a field of the command is refused with its name.
func Decode(m Message, maxBytes int) (Decoded, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	rawSum := sha256.Sum256(m.Body)
	inv := &InvalidError{CommandID: m.MessageID, BodyHash: hex.EncodeToString(rawSum[:])}
	fail := func(reason string, err error) (Decoded, error) {
		inv.Reason = Truncate(reason, MaxReasonBytes)
		inv.Err = err
		return Decoded{}, inv
	}
	fields, reason, err := members(m.Body, maxBytes, inv)
	if reason != "" {
		return fail(reason, err)
	}
	h, problem := decodeHeader(fields, inv)
	if problem != "" {
		return fail(problem, nil)
	}
	cmd, err := domain.DecodeCommandFields(inv.CommandType, fields)
	if err != nil {
		return fail(strings.ReplaceAll(domain.Reason(err), "\n", "; "), err)
	}
	if inv.CommandID == "" {
		return fail("id: is missing and the message has no id to stand in for it", nil)
	}
	hash, err := domain.CommandHash(cmd)
	if err != nil {
		return fail(err.Error(), err)
	}
	d := Decoded{ID: inv.CommandID, Type: inv.CommandType, CorrelationID: h.CorrelationID, BodyHash: hash, NotAfter: h.NotAfter, Command: cmd, IDToken: h.IDToken, SenderID: m.SenderID}
	if d.CorrelationID == "" {
		d.CorrelationID = m.CorrelationID
	}
	if d.CorrelationID == "" {
		d.CorrelationID = d.ID
	}
	return d, nil
}

// members splits body into its top-level members, or returns why it cannot be. An
// oversized body's id, when it can be found, goes into inv, so that its outcome is stored
// under the id its client polls.
func members(body []byte, maxBytes int, inv *InvalidError) (map[string]json.RawMessage, string, error) {
	if len(body) > maxBytes {
		if id, ok := scanID(body); ok {
			inv.CommandID = id
		}
		return nil, fmt.Sprintf("body is %d bytes, at most %d are accepted", len(body), maxBytes), nil
	}
	if !utf8.Valid(body) {
		return nil, "body is not valid UTF-8", nil
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, "body is not a JSON object", nil
	}
	fields, err := domain.ObjectMembers(trimmed)
	switch {
	case errors.Is(err, domain.ErrMalformedJSON):
		return nil, "body is not valid JSON: " + strings.TrimPrefix(err.Error(), domain.ErrMalformedJSON.Error()+": "), err
	case err != nil:
		return nil, "body: " + err.Error(), err
	}
	return fields, "", nil
}

// decodeHeader takes the envelope's keys out of fields, setting inv's id and type as soon
// as they are read (with an id, even a message whose type is wrong gets an outcome the
// client can read), and returns the header, or every problem joined.
func decodeHeader(fields map[string]json.RawMessage, inv *InvalidError) (Header, string) {
	var problems []string
	if raw, ok := take(fields, KeyID); ok {
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			problems = append(problems, "id: must be a string")
		} else if p := idProblem(id); p != "" {
			problems = append(problems, "id: "+p)
		} else {
			inv.CommandID = id
		}
	}
	var typ string
	if raw, ok := take(fields, KeyType); !ok {
		problems = append(problems, "type: is missing")
	} else if err := json.Unmarshal(raw, &typ); err != nil {
		problems = append(problems, "type: must be a string")
	} else if typ == "" {
		problems = append(problems, "type: must not be empty")
	} else {
		inv.CommandType = typ
	}
	var h Header
	var problem string
	if h.CorrelationID, problem = decodeMetadata(fields); problem != "" {
		problems = append(problems, problem)
	}
	if h.NotAfter, problem = decodeNotAfter(fields); problem != "" {
		problems = append(problems, problem)
	}
	if h.IDToken, problem = decodeAuth(fields); problem != "" {
		problems = append(problems, problem)
	}
	h.ID = inv.CommandID
	return h, strings.Join(problems, "; ")
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
	raw, ok := take(fields, KeyMetadata)
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
	if raw, ok := take(meta, KeyCorrelationID); ok {
		if err := json.Unmarshal(raw, &correlationID); err != nil {
			return "", "metadata.correlationId: must be a string"
		}
		if len(correlationID) > MaxIDBytes {
			return "", fmt.Sprintf("metadata.correlationId: must be at most %d bytes", MaxIDBytes)
		}
	}
	return correlationID, ""
}

// decodeNotAfter takes the deadline out of fields, or returns a problem.
func decodeNotAfter(fields map[string]json.RawMessage) (time.Time, string) {
	raw, ok := take(fields, KeyNotAfter)
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
		if key, _ := tok.(string); key == KeyID {
			var id string
			if err := dec.Decode(&id); err != nil || idProblem(id) != "" {
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
