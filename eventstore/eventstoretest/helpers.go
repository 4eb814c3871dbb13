package eventstoretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/eventstore"
)

// keyFormat is the timestamp key of dynamodb-eventstore: YYYYMMDD T HHMMSS, milliseconds,
// nine digits.
var keyFormat = regexp.MustCompile(`^\d{8}T\d{6}\d{3}\d{9}$`)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newCommand(typ string) eventstore.CommandRef {
	return eventstore.CommandRef{ID: uuid.NewString(), Type: typ, BodyHash: "sha256:" + uuid.NewString()}
}

func event(typ string, body string) eventstore.Event {
	return eventstore.Event{Type: typ, Body: json.RawMessage(body)}
}

func mustAppend(t *testing.T, st eventstore.Store, stream string, expected int64, events []eventstore.Event, cmd eventstore.CommandRef) []eventstore.Record {
	t.Helper()
	records, err := st.Append(testContext(t), stream, expected, events, cmd)
	if err != nil {
		t.Fatalf("append %d events to %s at %d: %v", len(events), stream, expected, err)
	}
	if len(records) != len(events) {
		t.Fatalf("append returned %d records for %d events", len(records), len(events))
	}
	return records
}

func mustLoad(t *testing.T, st eventstore.Store, stream string, from int64) []eventstore.Record {
	t.Helper()
	records, err := st.Load(testContext(t), stream, from)
	if err != nil {
		t.Fatalf("load %s from %d: %v", stream, from, err)
	}
	return records
}

func mustVersion(t *testing.T, st eventstore.Store, stream string) int64 {
	t.Helper()
	v, err := st.Version(testContext(t), stream)
	if err != nil {
		t.Fatalf("version of %s: %v", stream, err)
	}
	return v
}

func mustOutcome(t *testing.T, st eventstore.Store, id string) eventstore.Outcome {
	t.Helper()
	o, err := st.Outcome(testContext(t), id)
	if err != nil {
		t.Fatalf("outcome of %s: %v", id, err)
	}
	return o
}

// ReadAll reads st's events after the key after ("" for the beginning) in pages of limit,
// following every page to the end, and checks that each page holds at most limit events,
// exactly limit when another page follows, and that its Next is its last key.
func ReadAll(t *testing.T, st eventstore.Store, after string, limit int) []eventstore.Record {
	t.Helper()
	var all []eventstore.Record
	for range 10_000 {
		page, err := st.ReadAll(testContext(t), after, limit)
		if err != nil {
			t.Fatalf("limit %d: read all after %q: %v", limit, after, err)
		}
		if len(page.Records) > limit || (page.Next != "" && len(page.Records) != limit) {
			t.Fatalf("limit %d: read all after %q returned %d records and next %q", limit, after, len(page.Records), page.Next)
		}
		all = append(all, page.Records...)
		if page.Next == "" {
			return all
		}
		if len(page.Records) == 0 || page.Next != page.Records[len(page.Records)-1].Key {
			t.Fatalf("read all: next %q is not the last key of a non-empty page", page.Next)
		}
		after = page.Next
	}
	t.Fatal("read all did not end")
	return nil
}

// Keys returns the timestamp keys of records, in their order.
func Keys(records []eventstore.Record) []string {
	keys := make([]string, len(records))
	for i, r := range records {
		keys[i] = r.Key
	}
	return keys
}

// assertNothingWritten checks that stream has no events, that the command id has no
// outcome and that ReadAll finds nothing in the store.
func assertNothingWritten(t *testing.T, st eventstore.Store, stream, commandID string) {
	t.Helper()
	if stream != "" {
		if v := mustVersion(t, st, stream); v != 0 {
			t.Errorf("stream %s is at version %d, want 0", stream, v)
		}
	}
	if commandID != "" {
		if _, err := st.Outcome(testContext(t), commandID); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("outcome of %s: got %v, want ErrNotFound", commandID, err)
		}
	}
	if all := ReadAll(t, st, "", 100); len(all) != 0 {
		t.Errorf("read all found %d events, want none", len(all))
	}
}

func types(records []eventstore.Record) string {
	var b strings.Builder
	for _, r := range records {
		b.WriteString(r.Type)
	}
	return b.String()
}

// bigBody returns a JSON string of about n bytes.
func bigBody(n int, fill byte) json.RawMessage {
	b := bytes.Repeat([]byte{fill}, n)
	b[0], b[n-1] = '"', '"'
	return b
}

func firstKey(records []eventstore.Record) string {
	if len(records) == 0 {
		return "(none)"
	}
	return records[0].Key
}
