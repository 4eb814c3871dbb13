package eventstoretest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/eventstore"
)

// testSenders checks that who sent a command round-trips: the sender principal and the
// verified identity in every appended event's metadata, in the accepted outcome, and in a
// recorded rejection; and that a command without them stores none.
func testSenders(t *testing.T, st eventstore.Store) {
	who := eventstore.Identity{
		Issuer: "https://token.actions.githubusercontent.com", Subject: "repo:org/api:ref:refs/heads/main",
		Repository: "org/api", Ref: "refs/heads/main", Workflow: "deploy", RunID: "4242", Actor: "ann",
	}
	const sender = "AROAEXAMPLE:ci-role"
	meta := eventstore.Metadata{CorrelationID: "c1", CausationID: "c1", SenderID: sender, Identity: who}
	cmd := newCommand("Lock")
	cmd.SenderID, cmd.Identity = sender, who
	events := []eventstore.Event{event("Locked", `{"n":1}`), event("Locked", `{"n":2}`)}
	for i := range events {
		events[i].Metadata = meta
	}
	mustAppend(t, st, "lock:sender", 0, events, cmd)
	for _, r := range mustLoad(t, st, "lock:sender", 1) {
		if r.Metadata != meta {
			t.Errorf("%s@%d metadata %+v, want %+v", r.Stream, r.Version, r.Metadata, meta)
		}
	}
	if o := mustOutcome(t, st, cmd.ID); o.SenderID != sender || o.Identity != who {
		t.Errorf("accepted outcome: sender %q identity %+v, want %q %+v", o.SenderID, o.Identity, sender, who)
	}

	partial := eventstore.Identity{Issuer: "https://gitlab.example", Subject: "project_path:g/p"}
	rejected := eventstore.Outcome{CommandID: uuid.NewString(), CommandType: "Lock", Status: eventstore.OutcomeRejected,
		Stream: "lock:sender", Version: 2, Reason: "r", Code: eventstore.RejectionUnauthenticated,
		SenderID: "000000000000", Identity: partial, RecordedAt: time.Now().UTC()}
	if err := st.RecordOutcome(testContext(t), rejected); err != nil {
		t.Fatal(err)
	}
	if o := mustOutcome(t, st, rejected.CommandID); o.SenderID != rejected.SenderID || o.Identity != partial {
		t.Errorf("rejected outcome: sender %q identity %+v, want %q %+v", o.SenderID, o.Identity, rejected.SenderID, partial)
	}

	anonymous := newCommand("Lock")
	mustAppend(t, st, "lock:anonymous", 0, []eventstore.Event{event("Locked", `{}`)}, anonymous)
	if r := mustLoad(t, st, "lock:anonymous", 1)[0]; r.Metadata.SenderID != "" || !r.Metadata.Identity.IsZero() {
		t.Errorf("event of a command without a sender: metadata %+v", r.Metadata)
	}
	if o := mustOutcome(t, st, anonymous.ID); o.SenderID != "" || !o.Identity.IsZero() {
		t.Errorf("outcome of a command without a sender: %+v", o)
	}
}
