package eventstoretest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/eventstore"
)

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
	if _, err := st.Append(testContext(t), "lock:prod", 0, []eventstore.Event{event("Locked", `{}`)}, eventstore.CommandRef{ID: invalid.CommandID}); !errors.Is(err, eventstore.ErrDuplicateCommand) {
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
