// Package envelope is the one definition of a command message: the JSON object a client
// sends and the worker decodes. Its own keys ("type", "id", "metadata", "notAfter",
// "auth") sit next to the command's fields at the top level:
//
//	{"type":"Lock","id":"<idempotency key>","metadata":{"correlationId":"…"},"env":"prod","user":"alice"}
//
// Marshal writes such a body (the client's side) and Decode reads it strictly (the
// worker's side); both share the keys, the limits and the rules for command ids.
package envelope

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"buildledger/domain"
)

// Keys of the envelope: everything else at the top level of a message is the command's.
const (
	// KeyType holds the command type name, e.g. "Lock".
	KeyType = "type"
	// KeyID holds the command id, the client's idempotency key.
	KeyID = "id"
	// KeyMetadata holds an object with KeyCorrelationID.
	KeyMetadata = "metadata"
	// KeyNotAfter holds the command's deadline, an RFC 3339 time.
	KeyNotAfter = "notAfter"
	// KeyCorrelationID is the one key of the metadata object.
	KeyCorrelationID = "correlationId"
)

// reserved are the envelope's own keys; no command field may use them.
var reserved = []string{KeyType, KeyID, KeyMetadata, KeyNotAfter, KeyAuth}

// Reserved returns the envelope's own top-level keys; no command field may use them.
func Reserved() []string { return slices.Clone(reserved) }

// metadataKeys are the keys metadata may have.
var metadataKeys = []string{KeyCorrelationID}

// DefaultMaxBytes is the largest message body accepted unless configured otherwise.
// Commands are small; a larger body is a client bug, and refusing it early keeps every
// event far below DynamoDB's item limit.
const DefaultMaxBytes = 64 << 10

// MaxIDBytes bounds a command id: it is the key of the outcome item and the SQS
// deduplication id (at most 128 characters).
const MaxIDBytes = 128

// MaxReasonBytes bounds a stored or dead-lettered reason: joined validation problems of a
// hostile body could otherwise grow an outcome item without limit.
const MaxReasonBytes = 4 << 10

// Header is what the envelope carries besides the command.
type Header struct {
	// ID is the command id; required.
	ID string
	// CorrelationID links the command and everything it causes to a wider request;
	// optional.
	CorrelationID string
	// NotAfter is the command's deadline; zero for none.
	NotAfter time.Time
	// IDToken is an OIDC ID token proving who sends the command (auth.idToken); empty
	// for none. It is not part of the command: the same command with another token, or
	// none, has the same hash.
	IDToken string
}

// IDError says why a string is not a usable command id.
type IDError struct {
	// ID is the refused id.
	ID string
	// Problem says what is wrong with it, e.g. "must not be empty".
	Problem string
}

// Error names the problem.
func (e *IDError) Error() string { return "envelope: command id: " + e.Problem }

// CheckID returns nil when id is a usable command id, else an *IDError: an id is 1 to
// MaxIDBytes bytes without white space or control characters.
func CheckID(id string) error {
	if p := idProblem(id); p != "" {
		return &IDError{ID: id, Problem: p}
	}
	return nil
}

// idProblem returns why id is not a usable command id, or "".
func idProblem(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > MaxIDBytes:
		return fmt.Sprintf("must be at most %d bytes", MaxIDBytes)
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return "must not contain white space or control characters"
	}
	return ""
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence, marking the cut
// with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// hash is domain.CommandHash of a command that has just been encoded once.
func hash(cmd domain.Command) string {
	h, err := domain.CommandHash(cmd)
	if err != nil {
		return "unhashable: " + err.Error()
	}
	return h
}
