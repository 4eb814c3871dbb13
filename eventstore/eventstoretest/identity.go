package eventstoretest

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/eventstore"
)

// testSenders checks that who sent a command, and the policy it was decided under, round-trip: the sender principal and the
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
	cmd.SenderID, cmd.Identity, cmd.Policy = sender, who, "sha256:0123456789abcdef"
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
	if o := mustOutcome(t, st, cmd.ID); o.SenderID != sender || o.Identity != who || o.Policy != cmd.Policy {
		t.Errorf("accepted outcome: sender %q identity %+v policy %q, want %q %+v %q", o.SenderID, o.Identity, o.Policy, sender, who, cmd.Policy)
	}

	partial := eventstore.Identity{Issuer: "https://gitlab.example", Subject: "project_path:g/p"}
	rejected := eventstore.Outcome{CommandID: uuid.NewString(), CommandType: "Lock", Status: eventstore.OutcomeRejected,
		Stream: "lock:sender", Version: 2, Reason: "r", Code: eventstore.RejectionUnauthenticated,
		SenderID: "000000000000", Identity: partial, Policy: "sha256:fedcba9876543210", RecordedAt: time.Now().UTC()}
	if err := st.RecordOutcome(testContext(t), rejected); err != nil {
		t.Fatal(err)
	}
	if o := mustOutcome(t, st, rejected.CommandID); o.SenderID != rejected.SenderID || o.Identity != partial || o.Policy != rejected.Policy {
		t.Errorf("rejected outcome: sender %q identity %+v policy %q, want %q %+v %q", o.SenderID, o.Identity, o.Policy, rejected.SenderID, partial, rejected.Policy)
	}

	anonymous := newCommand("Lock")
	mustAppend(t, st, "lock:anonymous", 0, []eventstore.Event{event("Locked", `{}`)}, anonymous)
	if r := mustLoad(t, st, "lock:anonymous", 1)[0]; r.Metadata.SenderID != "" || !r.Metadata.Identity.IsZero() {
		t.Errorf("event of a command without a sender: metadata %+v", r.Metadata)
	}
	if o := mustOutcome(t, st, anonymous.ID); o.SenderID != "" || !o.Identity.IsZero() || o.Policy != "" {
		t.Errorf("outcome of a command without a sender: %+v", o)
	}
}
