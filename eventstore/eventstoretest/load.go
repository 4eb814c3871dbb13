package eventstoretest

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"buildledger/eventstore"
)

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
