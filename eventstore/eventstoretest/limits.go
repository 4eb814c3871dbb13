package eventstoretest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"buildledger/eventstore"
)

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
