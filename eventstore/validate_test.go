package eventstore_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"buildledger/eventstore"
)

func TestValidateAppend(t *testing.T) {
	ok := eventstore.Event{Type: "E", Body: json.RawMessage(`{}`)}
	cmd := eventstore.CommandRef{ID: "c"}
	tests := []struct {
		name     string
		stream   string
		expected int64
		events   []eventstore.Event
		cmd      eventstore.CommandRef
		want     []error
		mentions []string
	}{
		{name: "given_valid_input_then_nil", stream: "repo:a/b", events: []eventstore.Event{ok}, cmd: cmd},
		{name: "given_no_events_then_nil", stream: "repo:a/b", expected: 3, cmd: cmd},
		{name: "given_99_events_then_nil", stream: "repo:a/b", events: make99(ok), cmd: cmd},
		{name: "given_every_problem_then_all_joined", stream: "", expected: -1,
			events:   append(make99(ok), eventstore.Event{Body: json.RawMessage(`{}`)}, eventstore.Event{Type: "X", Body: json.RawMessage(`nope`)}),
			want:     []error{eventstore.ErrInvalidInput, eventstore.ErrTooManyEvents},
			mentions: []string{"stream is empty", "expected version -1", "command id is empty", "101 events", "event 99 has no type", "event 100 (X) body is not valid JSON"}},
		{name: "given_reserved_stream_then_invalid", stream: "$buckets", cmd: cmd, want: []error{eventstore.ErrInvalidInput}, mentions: []string{"reserved"}},
		{name: "given_put_stream_then_invalid", stream: "put:x", cmd: cmd, want: []error{eventstore.ErrInvalidInput}, mentions: []string{"reserved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := eventstore.ValidateAppend(tt.stream, tt.expected, tt.events, tt.cmd)
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v, want it to match %v", err, w)
				}
			}
			for _, m := range tt.mentions {
				if err == nil || !strings.Contains(err.Error(), m) {
					t.Errorf("error %v does not mention %q", err, m)
				}
			}
		})
	}
}

func make99(e eventstore.Event) []eventstore.Event {
	events := make([]eventstore.Event, eventstore.MaxEventsPerAppend)
	for i := range events {
		events[i] = e
	}
	return events
}

func TestErrAppendTooLarge_matches_ErrItemTooLarge(t *testing.T) {
	if !errors.Is(eventstore.ErrAppendTooLarge, eventstore.ErrItemTooLarge) {
		t.Fatal("ErrAppendTooLarge does not match ErrItemTooLarge")
	}
	if errors.Is(eventstore.ErrItemTooLarge, eventstore.ErrAppendTooLarge) {
		t.Fatal("ErrItemTooLarge matches ErrAppendTooLarge")
	}
}
