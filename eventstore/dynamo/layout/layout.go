// Package layout is the layout of the DynamoDB event store's tables: the attribute names of
// the events and commands tables and the size DynamoDB counts for their items. It imports
// no AWS SDK, so that the in-memory store can refuse exactly what the DynamoDB adapter
// refuses; eventstore/dynamo writes and reads items by these names.
package layout

import (
	"strconv"
	"time"

	"buildledger/eventstore"
)

// Attribute names of the events table.
const (
	Stream        = "stream"
	Version       = "version"
	Key           = "key"
	Bucket        = "tb"
	Type          = "type"
	Body          = "body"
	CommandID     = "commandId"
	CorrelationID = "correlationId"
	CausationID   = "causationId"
	RecordedAt    = "recordedAt"
)

// Attribute names of the commands table that the events table does not share; its items
// also have CommandID (the key), Version, Stream and RecordedAt.
const (
	Status       = "status"
	CommandType  = "commandType"
	FirstVersion = "firstVersion"
	LastVersion  = "lastVersion"
	Reason       = "reason"
	Code         = "code"
	BodyHash     = "bodyHash"
	// Policy holds the hash of the access policy a command was decided under (a string),
	// only when there was one.
	Policy = "policy"
)

// TimeLayout is how items hold times: UTC, RFC 3339 with nanoseconds.
const TimeLayout = time.RFC3339Nano

// FormatTime returns t as items hold it.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// RecordSize is the size of r once stored in the events table, counted the way DynamoDB
// counts an item toward its 400 KB limit: each attribute's name plus its value, strings in
// UTF-8 bytes, numbers one byte per two significant digits plus one. It includes the time
// bucket the time index needs, sharded by DefaultTimeShards, and leaves out empty optional
// attributes.
func RecordSize(r eventstore.Record) int {
	n := stringAttrSize(Stream, r.Stream) +
		numberAttrSize(Version, r.Version) +
		stringAttrSize(Key, r.Key) +
		stringAttrSize(Bucket, TimeBucket(r.Stream, r.Key, ShardsFor(r.Stream, DefaultTimeShards))) +
		stringAttrSize(Type, r.Type) +
		stringAttrSize(Body, string(r.Body)) +
		stringAttrSize(RecordedAt, FormatTime(r.RecordedAt))
	n += optionalStringAttrSize(CommandID, r.CommandID)
	n += optionalStringAttrSize(CorrelationID, r.Metadata.CorrelationID)
	n += optionalStringAttrSize(CausationID, r.Metadata.CausationID)
	n += senderSize(r.Metadata.SenderID, r.Metadata.Identity)
	return n
}

// OutcomeSize is the size of o once stored in the commands table, counted as RecordSize
// counts.
func OutcomeSize(o eventstore.Outcome) int {
	n := stringAttrSize(CommandID, o.CommandID) +
		stringAttrSize(Status, o.Status) +
		numberAttrSize(Version, o.Version) +
		stringAttrSize(RecordedAt, FormatTime(o.RecordedAt))
	n += optionalStringAttrSize(CommandType, o.CommandType)
	n += optionalStringAttrSize(Stream, o.Stream)
	n += optionalStringAttrSize(Reason, o.Reason)
	n += optionalStringAttrSize(Code, o.Code)
	n += optionalStringAttrSize(BodyHash, o.BodyHash)
	n += optionalStringAttrSize(Policy, o.Policy)
	n += senderSize(o.SenderID, o.Identity)
	if o.FirstVersion != 0 {
		n += numberAttrSize(FirstVersion, o.FirstVersion)
	}
	if o.LastVersion != 0 {
		n += numberAttrSize(LastVersion, o.LastVersion)
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
