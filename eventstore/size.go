package eventstore

import (
	"strconv"
	"time"
)

// MaxAppendBytes is the most one Append may write in all, its items' sizes added up: the
// limit of one DynamoDB transaction (4 MB).
const MaxAppendBytes = 4 * 1024 * 1024

// ErrAppendTooLarge means one Append's items together exceed MaxAppendBytes. It also
// matches ErrItemTooLarge, so that code treating oversized input as invalid needs no new case.
var ErrAppendTooLarge error = &nestedError{msg: "eventstore: append too large", parent: ErrItemTooLarge}

type nestedError struct {
	msg    string
	parent error
}

func (e *nestedError) Error() string { return e.msg }
func (e *nestedError) Unwrap() error { return e.parent }

// RecordSize is the size of r once stored, counted the way DynamoDB counts an item toward
// its 400 KB limit: each attribute's name plus its value, strings in UTF-8 bytes, numbers one
// byte per two significant digits plus one. It includes the day bucket the time index needs
// ("tb") and leaves out empty optional attributes. Every store compares it with
// MaxItemBytes, so that they all accept and refuse the same events.
func RecordSize(r Record) int {
	n := stringAttrSize("stream", r.Stream) +
		numberAttrSize("version", r.Version) +
		stringAttrSize("key", r.Key) +
		stringAttrSize("tb", Bucket(r.Key)) +
		stringAttrSize("type", r.Type) +
		stringAttrSize("body", string(r.Body)) +
		stringAttrSize("recordedAt", formatTime(r.RecordedAt))
	n += optionalStringAttrSize("commandId", r.CommandID)
	n += optionalStringAttrSize("correlationId", r.Metadata.CorrelationID)
	n += optionalStringAttrSize("causationId", r.Metadata.CausationID)
	return n
}

// OutcomeSize is the size of o once stored, counted as RecordSize counts.
func OutcomeSize(o Outcome) int {
	n := stringAttrSize("commandId", o.CommandID) +
		stringAttrSize("status", o.Status) +
		numberAttrSize("version", o.Version) +
		stringAttrSize("recordedAt", formatTime(o.RecordedAt))
	n += optionalStringAttrSize("commandType", o.CommandType)
	n += optionalStringAttrSize("stream", o.Stream)
	n += optionalStringAttrSize("reason", o.Reason)
	n += optionalStringAttrSize("code", o.Code)
	n += optionalStringAttrSize("bodyHash", o.BodyHash)
	if o.FirstVersion != 0 {
		n += numberAttrSize("firstVersion", o.FirstVersion)
	}
	if o.LastVersion != 0 {
		n += numberAttrSize("lastVersion", o.LastVersion)
	}
	return n
}

// NumberSize is the size DynamoDB counts for the number n: one byte per two significant
// digits, leading and trailing zeros trimmed, plus one.
func NumberSize(n int64) int {
	s := strconv.FormatInt(n, 10)
	if s[0] == '-' {
		s = s[1:]
	}
	end := len(s)
	for end > 1 && s[end-1] == '0' {
		end--
	}
	return (end+1)/2 + 1
}

func stringAttrSize(name, value string) int { return len(name) + len(value) }

func optionalStringAttrSize(name, value string) int {
	if value == "" {
		return 0
	}
	return stringAttrSize(name, value)
}

func numberAttrSize(name string, value int64) int { return len(name) + NumberSize(value) }

// formatTime is how stores write times: UTC, RFC 3339 with nanoseconds.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
