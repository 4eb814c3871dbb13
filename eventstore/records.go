package eventstore

import "time"

// NewRecords returns the records an Append of events to stream, found at expectedVersion,
// stores for cmd at time at, each with the next key of keys.
func NewRecords(stream string, expectedVersion int64, events []Event, cmd CommandRef, at time.Time, keys *KeyGenerator) []Record {
	records := make([]Record, len(events))
	for i, e := range events {
		records[i] = Record{
			Stream:     stream,
			Version:    expectedVersion + int64(i) + 1,
			Key:        keys.Next(),
			Type:       e.Type,
			Body:       e.Body,
			CommandID:  cmd.ID,
			Metadata:   e.Metadata,
			RecordedAt: at,
		}
	}
	return records
}

// NewPutRecord returns the record Put stores for body under key at time at.
func NewPutRecord(key string, body []byte, at time.Time) Record {
	return Record{Stream: PutStreamPrefix + key, Version: 1, Key: key, Type: PutEventType, Body: body, RecordedAt: at}
}
