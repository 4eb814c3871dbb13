// Package eventstoretest is the conformance suite every eventstore.Store must pass: the
// in-memory store and the DynamoDB adapter run the same tests, so that what holds for one
// holds for the other.
package eventstoretest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/eventstore"
)

// keyFormat is the timestamp key of dynamodb-eventstore: YYYYMMDD T HHMMSS, milliseconds,
// nine digits.
var keyFormat = regexp.MustCompile(`^\d{8}T\d{6}\d{3}\d{9}$`)

// Run runs the conformance suite. newStore must return an empty store that no other test
// uses; subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st eventstore.Store)
	}{
		{"given appended events when loaded then every envelope field round-trips", testRoundTrip},
		{"given a stream when ranges and versions are read then they match", testLoadRangeAndVersion},
		{"given no events when appended then only the outcome is stored", testAppendNoEvents},
		{"given 20 concurrent appenders on one stream then versions are contiguous with one winner each", testConcurrentAppenders},
		{"given a used command id when appended again then duplicate and nothing written", testDuplicateCommand},
		{"given a stale or future expected version when appended then conflict and nothing written", testExpectedVersionConflicts},
		{"given 99 events when appended after the start then the expected version is still checked", testFullAppend},
		{"given a stream over 1 MB when loaded then it loads whole and in order", testLargeStream},
		{"given several streams and puts when read all in pages then time order and every event once", testReadAll},
		{"given 200 concurrent puts then keys are unique, in the seed format, and bodies read back", testConcurrentPuts},
		{"given over-limit or invalid input when appended or put then a clear error and nothing written", testLimits},
		{"given recorded outcomes when read then they round-trip and unknown ids are not found", testOutcomes},
		{"given streams and puts when scanned in segments then every event once, each stream in one segment in order", testScanSegments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStore(t))
		})
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newCommand(typ string) eventstore.Command {
	return eventstore.Command{ID: uuid.NewString(), Type: typ, BodyHash: "sha256:" + uuid.NewString()}
}

func event(typ string, body string) eventstore.Event {
	return eventstore.Event{Type: typ, Body: json.RawMessage(body)}
}

func mustAppend(t *testing.T, st eventstore.Store, stream string, expected int64, events []eventstore.Event, cmd eventstore.Command) []eventstore.Record {
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

// readAll pages through ReadAll with the given page size and returns every record.
func readAll(t *testing.T, st eventstore.Store, after string, limit int) []eventstore.Record {
	t.Helper()
	var all []eventstore.Record
	for range 10_000 {
		page, err := st.ReadAll(testContext(t), after, limit)
		if err != nil {
			t.Fatalf("read all after %q: %v", after, err)
		}
		if len(page.Records) > limit {
			t.Fatalf("read all returned %d records, limit %d", len(page.Records), limit)
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
	if all := readAll(t, st, "", 100); len(all) != 0 {
		t.Errorf("read all found %d events, want none", len(all))
	}
}

func testRoundTrip(t *testing.T, st eventstore.Store) {
	before := time.Now().Add(-time.Minute)
	cmd := newCommand("CreateBuild")
	events := []eventstore.Event{
		{Type: "BuildCreated", Body: json.RawMessage(`{"buildId":1,"browsers":["chrome","firefox"],"note":"ünïcödé"}`),
			Metadata: eventstore.Metadata{CorrelationID: "corr-1", CausationID: "cause-1"}},
		{Type: "BrowserQueued", Body: json.RawMessage(`{"browser":"chrome"}`)},
	}
	appended := mustAppend(t, st, "repo:api/foo", 0, events, cmd)
	loaded := mustLoad(t, st, "repo:api/foo", 1)
	if len(loaded) != 2 {
		t.Fatalf("loaded %d records, want 2", len(loaded))
	}
	for i, got := range loaded {
		want := appended[i]
		if got.Stream != "repo:api/foo" || got.Version != int64(i+1) || got.Type != events[i].Type ||
			got.CommandID != cmd.ID || got.Metadata != events[i].Metadata {
			t.Errorf("record %d: got %+v, want stream repo:api/foo, version %d, type %s, command %s, metadata %+v",
				i, got, i+1, events[i].Type, cmd.ID, events[i].Metadata)
		}
		if !bytes.Equal(got.Body, events[i].Body) {
			t.Errorf("record %d body: got %s, want %s", i, got.Body, events[i].Body)
		}
		if !keyFormat.MatchString(got.Key) || got.Key != want.Key {
			t.Errorf("record %d key: loaded %q, appended %q", i, got.Key, want.Key)
		}
		if !got.RecordedAt.Equal(want.RecordedAt) || got.RecordedAt.Before(before) || got.RecordedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("record %d recordedAt: loaded %v, appended %v", i, got.RecordedAt, want.RecordedAt)
		}
		if want.Stream != got.Stream || want.Version != got.Version || want.Type != got.Type ||
			want.CommandID != got.CommandID || want.Metadata != got.Metadata || !bytes.Equal(want.Body, got.Body) {
			t.Errorf("record %d: appended %+v differs from loaded %+v", i, want, got)
		}
	}
	if loaded[0].Key >= loaded[1].Key {
		t.Errorf("keys %s, %s are not increasing", loaded[0].Key, loaded[1].Key)
	}

	o := mustOutcome(t, st, cmd.ID)
	want := eventstore.Outcome{CommandID: cmd.ID, CommandType: cmd.Type, Status: eventstore.OutcomeAccepted,
		Stream: "repo:api/foo", FirstVersion: 1, LastVersion: 2, Version: 2, BodyHash: cmd.BodyHash}
	got := o
	got.RecordedAt = time.Time{}
	if got != want {
		t.Errorf("outcome: got %+v, want %+v", got, want)
	}
	if !o.RecordedAt.Equal(appended[0].RecordedAt) {
		t.Errorf("outcome recordedAt %v, events %v", o.RecordedAt, appended[0].RecordedAt)
	}

	// The caller's buffers are not the store's.
	loaded[0].Body[0] = 'X'
	if again := mustLoad(t, st, "repo:api/foo", 1); again[0].Body[0] != '{' {
		t.Errorf("changing a loaded body changed the stored one: %s", again[0].Body)
	}
}

func testLoadRangeAndVersion(t *testing.T, st eventstore.Store) {
	const stream = "status:pkg/dev/1.0.0"
	if v := mustVersion(t, st, stream); v != 0 {
		t.Fatalf("version of a new stream: %d", v)
	}
	if got := mustLoad(t, st, stream, 1); len(got) != 0 {
		t.Fatalf("load of a new stream: %d records", len(got))
	}
	mustAppend(t, st, stream, 0, []eventstore.Event{event("A", `{"n":1}`), event("B", `{"n":2}`)}, newCommand("X"))
	mustAppend(t, st, stream, 2, []eventstore.Event{event("C", `{"n":3}`), event("D", `{"n":4}`), event("E", `{"n":5}`)}, newCommand("X"))
	mustAppend(t, st, "status:other/dev/1.0.0", 0, []eventstore.Event{event("Z", `{}`)}, newCommand("X"))
	if v := mustVersion(t, st, stream); v != 5 {
		t.Errorf("version: got %d, want 5", v)
	}
	tests := []struct {
		name     string
		from, to int64
		want     string
	}{
		{"given_middle_range_then_inclusive", 2, 4, "BCD"},
		{"given_whole_range_then_all", 1, 5, "ABCDE"},
		{"given_range_past_the_end_then_up_to_the_end", 4, 100, "DE"},
		{"given_single_version_then_one", 3, 3, "C"},
		{"given_from_after_to_then_none", 4, 2, ""},
		{"given_range_after_the_end_then_none", 6, 9, ""},
		{"given_from_zero_then_from_the_start", 0, 2, "AB"},
	}
	for _, tt := range tests {
		records, err := st.LoadRange(testContext(t), stream, tt.from, tt.to)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := types(records); got != tt.want {
			t.Errorf("%s: LoadRange(%d, %d) types %q, want %q", tt.name, tt.from, tt.to, got, tt.want)
		}
		for i, r := range records {
			if r.Version != max(tt.from, 1)+int64(i) {
				t.Errorf("%s: record %d has version %d", tt.name, i, r.Version)
			}
		}
	}
	if got := types(mustLoad(t, st, stream, 4)); got != "DE" {
		t.Errorf("Load from 4: %q, want DE", got)
	}
	if _, err := st.Load(testContext(t), "", 1); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("Load of an empty stream name: got %v, want ErrInvalidInput", err)
	}
}

func types(records []eventstore.Record) string {
	var b strings.Builder
	for _, r := range records {
		b.WriteString(r.Type)
	}
	return b.String()
}

func testAppendNoEvents(t *testing.T, st eventstore.Store) {
	const stream = "lock:prod"
	first := newCommand("Lock")
	if records, err := st.Append(testContext(t), stream, 0, nil, first); err != nil || len(records) != 0 {
		t.Fatalf("append of no events: %v, %d records", err, len(records))
	}
	if o := mustOutcome(t, st, first.ID); o.Status != eventstore.OutcomeAccepted || o.Version != 0 || o.FirstVersion != 0 || o.LastVersion != 0 || o.Stream != stream {
		t.Errorf("outcome of an empty append: %+v", o)
	}
	mustAppend(t, st, stream, 0, []eventstore.Event{event("Locked", `{}`), event("Refreshed", `{}`)}, newCommand("Lock"))
	second := newCommand("Lock")
	if _, err := st.Append(testContext(t), stream, 2, []eventstore.Event{}, second); err != nil {
		t.Fatalf("append of no events at 2: %v", err)
	}
	if o := mustOutcome(t, st, second.ID); o.Version != 2 || o.FirstVersion != 0 {
		t.Errorf("outcome of an empty append at 2: %+v", o)
	}
	if v := mustVersion(t, st, stream); v != 2 {
		t.Errorf("version: got %d, want 2", v)
	}
}

func testConcurrentAppenders(t *testing.T, st eventstore.Store) {
	const appenders, perAppender, stream = 20, 5, "job:deploy/1.2.3"
	ctx := testContext(t)
	type win struct {
		cmd     string
		version int64
	}
	wins := make(chan win, appenders*perAppender)
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for n := 0; n < perAppender; {
				if ctx.Err() != nil {
					t.Errorf("appender %d: %v", a, ctx.Err())
					return
				}
				v, err := st.Version(ctx, stream)
				if err != nil {
					t.Errorf("appender %d: version: %v", a, err)
					return
				}
				cmd := newCommand("Start")
				body := fmt.Sprintf(`{"appender":%d,"n":%d}`, a, n)
				records, err := st.Append(ctx, stream, v, []eventstore.Event{event("Started", body)}, cmd)
				if errors.Is(err, eventstore.ErrVersionConflict) {
					var conflict *eventstore.ConflictError
					if !errors.As(err, &conflict) || conflict.Stream != stream || conflict.ExpectedVersion != v {
						t.Errorf("appender %d: conflict error %v does not carry %s at %d", a, err, stream, v)
					}
					time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond)
					continue
				}
				if err != nil {
					t.Errorf("appender %d: append: %v", a, err)
					return
				}
				if records[0].Version != v+1 {
					t.Errorf("appender %d: appended at %d, want %d", a, records[0].Version, v+1)
				}
				wins <- win{cmd: cmd.ID, version: records[0].Version}
				n++
			}
		})
	}
	wg.Wait()
	close(wins)
	if t.Failed() {
		return
	}
	winners := make(map[int64]string)
	for w := range wins {
		if other, ok := winners[w.version]; ok {
			t.Errorf("version %d won by both %s and %s", w.version, other, w.cmd)
		}
		winners[w.version] = w.cmd
	}
	records := mustLoad(t, st, stream, 1)
	if len(records) != appenders*perAppender {
		t.Fatalf("loaded %d records, want %d", len(records), appenders*perAppender)
	}
	seen := make(map[string]bool)
	for i, r := range records {
		if r.Version != int64(i+1) {
			t.Errorf("record %d has version %d: a gap or a duplicate", i, r.Version)
		}
		if winners[r.Version] != r.CommandID {
			t.Errorf("version %d holds command %s, but %s won it", r.Version, r.CommandID, winners[r.Version])
		}
		if seen[r.CommandID] {
			t.Errorf("command %s appears twice", r.CommandID)
		}
		seen[r.CommandID] = true
	}
	if v := mustVersion(t, st, stream); v != appenders*perAppender {
		t.Errorf("version %d, want %d", v, appenders*perAppender)
	}
}

func testDuplicateCommand(t *testing.T, st eventstore.Store) {
	cmd := newCommand("Lock")
	mustAppend(t, st, "lock:prod", 0, []eventstore.Event{event("Locked", `{"user":"ann"}`)}, cmd)
	tests := []struct {
		name     string
		stream   string
		expected int64
	}{
		{"given_same_stream_at_its_version", "lock:prod", 1},
		{"given_same_stream_with_the_stale_version", "lock:prod", 0},
		{"given_another_stream", "lock:staging", 0},
	}
	for _, tt := range tests {
		_, err := st.Append(testContext(t), tt.stream, tt.expected, []eventstore.Event{event("Locked", `{"user":"bob"}`)}, cmd)
		var dup *eventstore.DuplicateCommandError
		if !errors.Is(err, eventstore.ErrDuplicateCommand) || !errors.As(err, &dup) || dup.CommandID != cmd.ID {
			t.Errorf("%s: got %v, want a DuplicateCommandError for %s", tt.name, err, cmd.ID)
		}
		if errors.Is(err, eventstore.ErrVersionConflict) {
			t.Errorf("%s: a duplicate is also reported as a conflict: %v", tt.name, err)
		}
	}
	if v := mustVersion(t, st, "lock:prod"); v != 1 {
		t.Errorf("lock:prod at %d, want 1", v)
	}
	if v := mustVersion(t, st, "lock:staging"); v != 0 {
		t.Errorf("lock:staging at %d, want 0", v)
	}
	if o := mustOutcome(t, st, cmd.ID); o.Stream != "lock:prod" || o.Version != 1 {
		t.Errorf("the first outcome changed: %+v", o)
	}
	if _, err := st.Append(testContext(t), "lock:staging", 0, nil, cmd); !errors.Is(err, eventstore.ErrDuplicateCommand) {
		t.Errorf("empty append with a used id: got %v, want ErrDuplicateCommand", err)
	}
	if all := readAll(t, st, "", 100); len(all) != 1 {
		t.Errorf("read all found %d events, want 1", len(all))
	}
}

func testExpectedVersionConflicts(t *testing.T, st eventstore.Store) {
	const stream = "repo:api/bar"
	mustAppend(t, st, stream, 0, []eventstore.Event{event("A", `{}`), event("B", `{}`), event("C", `{}`)}, newCommand("X"))
	tests := []struct {
		name     string
		expected int64
		events   int
	}{
		{"given_new_stream_version_on_existing_stream", 0, 1},
		{"given_stale_version", 2, 1},
		{"given_stale_version_with_several_events", 1, 3},
		{"given_version_beyond_the_end", 4, 1},
		{"given_version_far_beyond_the_end", 50, 2},
		{"given_version_beyond_the_end_and_no_events", 7, 0},
	}
	for _, tt := range tests {
		cmd := newCommand("X")
		events := make([]eventstore.Event, tt.events)
		for i := range events {
			events[i] = event("Late", `{}`)
		}
		_, err := st.Append(testContext(t), stream, tt.expected, events, cmd)
		var conflict *eventstore.ConflictError
		if !errors.Is(err, eventstore.ErrVersionConflict) || !errors.As(err, &conflict) ||
			conflict.Stream != stream || conflict.ExpectedVersion != tt.expected {
			t.Errorf("%s: got %v, want a ConflictError on %s at %d", tt.name, err, stream, tt.expected)
			continue
		}
		if _, err := st.Outcome(testContext(t), cmd.ID); !errors.Is(err, eventstore.ErrNotFound) {
			t.Errorf("%s: the losing command has an outcome: %v", tt.name, err)
		}
	}
	if got := types(mustLoad(t, st, stream, 1)); got != "ABC" {
		t.Errorf("stream holds %q, want ABC", got)
	}
}

func testFullAppend(t *testing.T, st eventstore.Store) {
	const stream = "repo:api/full"
	mustAppend(t, st, stream, 0, []eventstore.Event{event("A", `{}`)}, newCommand("X"))
	many := func() []eventstore.Event {
		events := make([]eventstore.Event, eventstore.MaxEventsPerAppend)
		for i := range events {
			events[i] = event("Many", fmt.Sprintf(`{"i":%d}`, i))
		}
		return events
	}
	for _, expected := range []int64{0, 2, 500} {
		_, err := st.Append(testContext(t), stream, expected, many(), newCommand("X"))
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			t.Errorf("99 events at %d on a stream at 1: got %v, want ErrVersionConflict", expected, err)
		}
	}
	records := mustAppend(t, st, stream, 1, many(), newCommand("X"))
	if records[0].Version != 2 || records[98].Version != 100 {
		t.Errorf("99 events at 1 got versions %d..%d, want 2..100", records[0].Version, records[98].Version)
	}
	for _, expected := range []int64{50, 101} {
		_, err := st.Append(testContext(t), stream, expected, many(), newCommand("X"))
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			t.Errorf("99 events at %d on a stream at 100: got %v, want ErrVersionConflict", expected, err)
		}
	}
	// A used command id wins over the conflict here too.
	used := newCommand("X")
	mustAppend(t, st, "repo:api/other", 0, []eventstore.Event{event("O", `{}`)}, used)
	if _, err := st.Append(testContext(t), stream, 500, many(), used); !errors.Is(err, eventstore.ErrDuplicateCommand) {
		t.Errorf("99 events with a used id at 500: got %v, want ErrDuplicateCommand", err)
	}
	if v := mustVersion(t, st, stream); v != 100 {
		t.Errorf("version %d, want 100", v)
	}
}

// bigBody returns a JSON string of about n bytes.
func bigBody(n int, fill byte) json.RawMessage {
	b := bytes.Repeat([]byte{fill}, n)
	b[0], b[n-1] = '"', '"'
	return b
}

func testLargeStream(t *testing.T, st eventstore.Store) {
	const stream, appends = "repo:api/large", 4
	for i := range appends {
		body := bigBody(300*1024, byte('a'+i))
		mustAppend(t, st, stream, int64(i), []eventstore.Event{{Type: "Big", Body: body}}, newCommand("X"))
	}
	records := mustLoad(t, st, stream, 1)
	if len(records) != appends {
		t.Fatalf("loaded %d records of %d (over 1 MB in all)", len(records), appends)
	}
	for i, r := range records {
		if r.Version != int64(i+1) || len(r.Body) != 300*1024 || r.Body[1] != byte('a'+i) {
			t.Errorf("record %d: version %d, %d bytes starting %q", i, r.Version, len(r.Body), r.Body[:2])
		}
	}
	ranged, err := st.LoadRange(testContext(t), stream, 2, 4)
	if err != nil || len(ranged) != 3 {
		t.Fatalf("LoadRange(2, 4): %d records, %v", len(ranged), err)
	}
}

func testReadAll(t *testing.T, st eventstore.Store) {
	streams := []string{"repo:a/one", "status:b/dev/1", "lock:c"}
	type ref struct {
		stream  string
		version int64
	}
	var want []ref
	putBodies := make(map[string]string)
	for round := range 4 {
		for _, s := range streams {
			mustAppend(t, st, s, int64(round), []eventstore.Event{event("E", fmt.Sprintf(`{"round":%d}`, round))}, newCommand("X"))
			want = append(want, ref{s, int64(round + 1)})
		}
		body := fmt.Sprintf(`{"put":%d}`, round)
		key, err := st.Put(testContext(t), json.RawMessage(body))
		if err != nil {
			t.Fatalf("put: %v", err)
		}
		putBodies[key] = body
		want = append(want, ref{eventstore.PutStreamPrefix + key, 1})
	}
	for _, limit := range []int{1, 5, 16, 100} {
		all := readAll(t, st, "", limit)
		if len(all) != len(want) {
			t.Fatalf("limit %d: read %d events, want %d", limit, len(all), len(want))
		}
		for i, r := range all {
			if (ref{r.Stream, r.Version}) != want[i] {
				t.Errorf("limit %d: event %d is %s@%d, want %s@%d", limit, i, r.Stream, r.Version, want[i].stream, want[i].version)
			}
			if i > 0 && r.Key <= all[i-1].Key {
				t.Errorf("limit %d: key %s is not after %s", limit, r.Key, all[i-1].Key)
			}
			if body, ok := putBodies[r.Key]; ok && (r.Type != eventstore.PutEventType || string(r.Body) != body) {
				t.Errorf("limit %d: put event %s is %s %s, want Put %s", limit, r.Key, r.Type, r.Body, body)
			}
		}
		if limit == 100 {
			// Starting in the middle returns exactly what follows.
			rest := readAll(t, st, all[6].Key, 3)
			if len(rest) != len(all)-7 || rest[0].Key != all[7].Key {
				t.Errorf("after the 7th key: %d events starting %v, want %d starting %s", len(rest), firstKey(rest), len(all)-7, all[7].Key)
			}
			if end := readAll(t, st, all[len(all)-1].Key, 3); len(end) != 0 {
				t.Errorf("after the last key: %d events", len(end))
			}
		}
	}
	if _, err := st.ReadAll(testContext(t), "", 0); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("limit 0: got %v, want ErrInvalidInput", err)
	}
}

func firstKey(records []eventstore.Record) string {
	if len(records) == 0 {
		return "(none)"
	}
	return records[0].Key
}

func testConcurrentPuts(t *testing.T, st eventstore.Store) {
	const puts = 200
	ctx := testContext(t)
	keys := make([]string, puts)
	var wg sync.WaitGroup
	for i := range puts {
		wg.Go(func() {
			key, err := st.Put(ctx, json.RawMessage(fmt.Sprintf(`{"my":"event","i":%d}`, i)))
			if err != nil {
				t.Errorf("put %d: %v", i, err)
			}
			keys[i] = key
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	byKey := make(map[string]int, puts)
	for i, k := range keys {
		if !keyFormat.MatchString(k) {
			t.Errorf("put %d: key %q is not in the seed format", i, k)
		}
		if j, ok := byKey[k]; ok {
			t.Errorf("puts %d and %d got the same key %s", j, i, k)
		}
		byKey[k] = i
	}
	all := readAll(t, st, "", 64)
	if len(all) != puts {
		t.Fatalf("read all found %d events, want %d", len(all), puts)
	}
	for _, r := range all {
		i, ok := byKey[r.Key]
		if !ok {
			t.Errorf("read all returned unknown key %s", r.Key)
			continue
		}
		if want := fmt.Sprintf(`{"my":"event","i":%d}`, i); string(r.Body) != want {
			t.Errorf("key %s has body %s, want %s", r.Key, r.Body, want)
		}
		if r.Type != eventstore.PutEventType || r.Stream != eventstore.PutStreamPrefix+r.Key || r.Version != 1 {
			t.Errorf("put event %s is %s@%d of type %s", r.Key, r.Stream, r.Version, r.Type)
		}
		delete(byKey, r.Key)
	}
	if len(byKey) != 0 {
		t.Errorf("%d put events are missing from read all", len(byKey))
	}
}

func testLimits(t *testing.T, st eventstore.Store) {
	many := make([]eventstore.Event, eventstore.MaxEventsPerAppend+1)
	for i := range many {
		many[i] = event("E", `{}`)
	}
	fat := make([]eventstore.Event, 11) // 11 × 390 KB: every item fits, the transaction does not
	for i := range fat {
		fat[i] = eventstore.Event{Type: "Fat", Body: bigBody(390*1024, 'f')}
	}
	tests := []struct {
		name     string
		stream   string
		expected int64
		events   []eventstore.Event
		noID     bool
		want     error
	}{
		{name: "given_100_events_then_too_many", stream: "repo:x/y", events: many, want: eventstore.ErrTooManyEvents},
		{name: "given_500KB_body_then_item_too_large", stream: "repo:x/y", events: []eventstore.Event{{Type: "Big", Body: bigBody(500*1024, 'b')}}, want: eventstore.ErrItemTooLarge},
		{name: "given_4MB_in_all_then_append_too_large", stream: "repo:x/y", events: fat, want: eventstore.ErrAppendTooLarge},
		{name: "given_invalid_json_then_invalid_input", stream: "repo:x/y", events: []eventstore.Event{event("Ok", `{}`), event("Bad", `{"a":`)}, want: eventstore.ErrInvalidInput},
		{name: "given_empty_body_then_invalid_input", stream: "repo:x/y", events: []eventstore.Event{event("Empty", ``)}, want: eventstore.ErrInvalidInput},
		{name: "given_empty_type_then_invalid_input", stream: "repo:x/y", events: []eventstore.Event{event("", `{}`)}, want: eventstore.ErrInvalidInput},
		{name: "given_empty_stream_then_invalid_input", stream: "", events: []eventstore.Event{event("E", `{}`)}, want: eventstore.ErrInvalidInput},
		{name: "given_reserved_stream_then_invalid_input", stream: "$buckets", events: []eventstore.Event{event("E", `{}`)}, want: eventstore.ErrInvalidInput},
		{name: "given_put_stream_then_invalid_input", stream: "put:20200101T000000000000000000", events: []eventstore.Event{event("E", `{}`)}, want: eventstore.ErrInvalidInput},
		{name: "given_negative_expected_version_then_invalid_input", stream: "repo:x/y", expected: -1, events: []eventstore.Event{event("E", `{}`)}, want: eventstore.ErrInvalidInput},
		{name: "given_no_command_id_then_invalid_input", stream: "repo:x/y", noID: true, events: []eventstore.Event{event("E", `{}`)}, want: eventstore.ErrInvalidInput},
	}
	for _, tt := range tests {
		cmd := newCommand("X")
		if tt.noID {
			cmd.ID = ""
		}
		_, err := st.Append(testContext(t), tt.stream, tt.expected, tt.events, cmd)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		} else if !strings.HasPrefix(err.Error(), "eventstore") {
			t.Errorf("%s: error %q has no package prefix", tt.name, err)
		}
		assertNothingWritten(t, st, tt.stream, cmd.ID)
	}
	for _, body := range []json.RawMessage{json.RawMessage(`{"a":`), nil, bigBody(500*1024, 'p')} {
		key, err := st.Put(testContext(t), body)
		want := eventstore.ErrInvalidInput
		if len(body) > 1000 {
			want = eventstore.ErrItemTooLarge
		}
		if !errors.Is(err, want) || key != "" {
			t.Errorf("put of %d bytes: got %q, %v, want %v", len(body), key, err, want)
		}
	}
	if err := st.RecordOutcome(testContext(t), eventstore.Outcome{CommandID: "too-long", Status: eventstore.OutcomeInvalid, Reason: string(bigBody(500*1024, 'r'))}); !errors.Is(err, eventstore.ErrItemTooLarge) {
		t.Errorf("outcome with a 500 KB reason: got %v, want ErrItemTooLarge", err)
	}
	assertNothingWritten(t, st, "", "too-long")
}

func testOutcomes(t *testing.T, st eventstore.Store) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("CET", 3600))
	rejected := eventstore.Outcome{CommandID: uuid.NewString(), CommandType: "Lock", Status: eventstore.OutcomeRejected,
		Stream: "lock:prod", Version: 3, Reason: "Still locked at env prod by ann", Code: "locked", BodyHash: "h1", RecordedAt: at}
	if err := st.RecordOutcome(testContext(t), rejected); err != nil {
		t.Fatalf("record rejected: %v", err)
	}
	got := mustOutcome(t, st, rejected.CommandID)
	if !got.RecordedAt.Equal(at) {
		t.Errorf("recordedAt %v, want %v", got.RecordedAt, at)
	}
	got.RecordedAt, rejected.RecordedAt = time.Time{}, time.Time{}
	if got != rejected {
		t.Errorf("outcome: got %+v, want %+v", got, rejected)
	}

	invalid := eventstore.Outcome{CommandID: uuid.NewString(), Status: eventstore.OutcomeInvalid, Reason: "missing field user"}
	if err := st.RecordOutcome(testContext(t), invalid); err != nil {
		t.Fatalf("record invalid: %v", err)
	}
	if got := mustOutcome(t, st, invalid.CommandID); got.Status != eventstore.OutcomeInvalid || got.Reason != invalid.Reason || got.RecordedAt.IsZero() {
		t.Errorf("invalid outcome without a time: %+v", got)
	}

	again := eventstore.Outcome{CommandID: rejected.CommandID, Status: eventstore.OutcomeInvalid, Reason: "other"}
	var dup *eventstore.DuplicateCommandError
	if err := st.RecordOutcome(testContext(t), again); !errors.As(err, &dup) || dup.CommandID != rejected.CommandID {
		t.Errorf("second outcome for an id: got %v, want a DuplicateCommandError", err)
	}
	if _, err := st.Append(testContext(t), "lock:prod", 0, []eventstore.Event{event("Locked", `{}`)}, eventstore.Command{ID: invalid.CommandID}); !errors.Is(err, eventstore.ErrDuplicateCommand) {
		t.Errorf("append with a recorded id: got %v, want ErrDuplicateCommand", err)
	}
	if got := mustOutcome(t, st, rejected.CommandID); got.Reason != rejected.Reason {
		t.Errorf("the first outcome was replaced: %+v", got)
	}

	accepted := newCommand("Lock")
	mustAppend(t, st, "lock:dev", 0, []eventstore.Event{event("Locked", `{}`)}, accepted)
	if err := st.RecordOutcome(testContext(t), eventstore.Outcome{CommandID: accepted.ID, Status: eventstore.OutcomeRejected}); !errors.Is(err, eventstore.ErrDuplicateCommand) {
		t.Errorf("outcome for an appended command: got %v, want ErrDuplicateCommand", err)
	}

	if _, err := st.Outcome(testContext(t), "never-seen"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("unknown id: got %v, want ErrNotFound", err)
	}
	for _, bad := range []eventstore.Outcome{{Status: eventstore.OutcomeRejected}, {CommandID: "x", Status: "maybe"}} {
		if err := st.RecordOutcome(testContext(t), bad); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("outcome %+v: got %v, want ErrInvalidInput", bad, err)
		}
	}
}
