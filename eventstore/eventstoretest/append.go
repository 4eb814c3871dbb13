package eventstoretest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"buildledger/eventstore"
)

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
	if all := ReadAll(t, st, "", 100); len(all) != 1 {
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
