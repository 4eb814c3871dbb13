package faulttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

// hostileMessage is a command message the worker must refuse without stopping.
type hostileMessage struct {
	name string
	body string
	// id is the command id the invalid outcome is stored under; empty when the body has
	// no usable id and the SQS message id stands in for it.
	id string
	// reason is what the invalid outcome's reason must mention.
	reason string
}

func hostileMessages() []hostileMessage {
	deep := strings.Repeat("[", 20_000) + strings.Repeat("]", 20_000)
	return []hostileMessage{
		{"invalid JSON", `{"type":"Lock","id":"bad-json","env":"prod",`, "", "not valid JSON"},
		{"trailing data after the object", `{"type":"Lock","id":"bad-trailing","env":"prod","user":"alice"} {"type":"Lock"}`, "", "not valid JSON"},
		{"not an object", `["Lock","prod","alice"]`, "", "not a JSON object"},
		{"unknown type", `{"type":"Unlock","id":"bad-type","env":"prod","user":"alice"}`, "bad-type", `unknown command type "Unlock"`},
		{"missing type", `{"id":"bad-notype","env":"prod","user":"alice"}`, "bad-notype", "type: is missing"},
		{"type of the wrong JSON type", `{"type":7,"id":"bad-typetype","env":"prod","user":"alice"}`, "bad-typetype", "type: must be a string"},
		{"missing field", `{"type":"Lock","id":"bad-missing","env":"prod"}`, "bad-missing", "user"},
		{"field of the wrong JSON type", `{"type":"Lock","id":"bad-wrongtype","env":"prod","user":42}`, "bad-wrongtype", "user"},
		{"list field given a string", `{"type":"CreateBuild","id":"bad-browsers","user":"ci","repo":"web","tag":"v1","browsers":"chrome"}`, "bad-browsers", "browsers"},
		{"id of the wrong JSON type", `{"type":"Lock","id":42,"env":"prod","user":"alice"}`, "", "id: must be a string"},
		{"id with a control character", `{"type":"Lock","id":"bad\u0007id","env":"prod","user":"alice"}`, "", "id: must not contain white space or control characters"},
		{"id longer than 128 bytes", `{"type":"Lock","id":"` + strings.Repeat("x", 200) + `","env":"prod","user":"alice"}`, "", "id: must be at most 128 bytes"},
		// The sender's AWS SDK replaces invalid UTF-8 by U+FFFD before SQS sees the body, so
		// the bytes arrive as a type name that does not exist.
		{"invalid UTF-8", "{\"type\":\"Lo\xffck\",\"id\":\"bad-utf8\",\"env\":\"prod\",\"user\":\"alice\"}", "bad-utf8", "unknown command type"},
		{"nesting deeper than the decoder allows", `{"type":"Lock","id":"bad-deep","env":"prod","user":"alice","meta":` + deep + `}`, "", "not valid JSON"},
		{"body over 64 KiB", `{"type":"Lock","id":"bad-big","env":"prod","user":"alice","meta":"` + strings.Repeat("m", 100<<10) + `"}`, "bad-big", "at most 65536 are accepted"},
	}
}

func TestBadInput_GivenHostileMessagesBetweenGoodCommands_ThenEachGetsInvalidOutcomeAndDeadLetterAndWorkerKeepsApplyingGoodOnes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, "badinput", stackConfig{})
	w, stop := s.startWorker(t, workerConfig{})

	good := func(i int) (string, string) {
		id := fmt.Sprintf("good-%02d", i)
		return id, fmt.Sprintf(`{"type":"Lock","id":%q,"env":"env%02d","user":"alice","meta":"deploy %d"}`, id, i, i)
	}
	hostile := hostileMessages()
	// One message group: each hostile message sits in line between two good commands.
	const group = "mixed"
	seq := 0
	send := func(body string) string {
		seq++
		return s.sendRaw(t, group, fmt.Sprintf("m%03d", seq), []byte(body))
	}
	var goodIDs []string
	messageIDs := map[string]string{}
	for i, h := range hostile {
		id, body := good(i)
		send(body)
		goodIDs = append(goodIDs, id)
		messageIDs[h.name] = send(h.body)
	}
	// A command id used again for another command: the first stands, the second is refused.
	send(`{"type":"Lock","id":"reuse-1","env":"reuse","user":"alice"}`)
	reused := `{"type":"Lock","id":"reuse-1","env":"reuse","user":"bob"}`
	send(reused)
	// A good command without an id: the SQS message id is its idempotency key.
	noID := send(`{"type":"Lock","env":"noid","user":"carol"}`)
	// Good commands after everything, in the same group and in groups of their own.
	for i := len(hostile); i < len(hostile)+5; i++ {
		id, body := good(i)
		if i%2 == 0 {
			send(body)
		} else {
			s.sendRaw(t, id, id, []byte(body))
		}
		goodIDs = append(goodIDs, id)
	}

	wantIDs := append(slices.Clone(goodIDs), "reuse-1", noID)
	waitFor(t, 90*time.Second, "every good command's outcome", func() (bool, string) {
		for _, id := range wantIDs {
			if _, err := s.events.Outcome(ctx, id); err != nil {
				return false, fmt.Sprintf("%s: %v", id, err)
			}
		}
		return true, ""
	})
	for i, id := range goodIDs {
		stream := domain.LockStreamID(fmt.Sprintf("env%02d", i))
		s.checkAccepted(t, id, stream, "alice")
	}
	s.checkAccepted(t, noID, "lock:noid", "carol")
	s.checkAccepted(t, "reuse-1", "lock:reuse", "alice")

	for _, h := range hostile {
		id := h.id
		if id == "" {
			id = messageIDs[h.name]
		}
		o, err := s.events.Outcome(ctx, id)
		switch {
		case err != nil:
			t.Errorf("given %s then an invalid outcome under %s; got %v", h.name, id, err)
		case o.Status != eventstore.OutcomeInvalid || !strings.Contains(o.Reason, h.reason):
			t.Errorf("given %s then outcome invalid mentioning %q; got %s: %q", h.name, h.reason, o.Status, o.Reason)
		}
	}

	// Every hostile message and the reused id land in the dead-letter queue, with a reason.
	want := len(hostile) + 1
	dead := s.drainQueue(t, s.ep.CommandsDLQURL, want, 60*time.Second)
	bodies := map[string]bool{}
	for _, m := range dead {
		body := aws.ToString(m.Body)
		bodies[body] = true
		reason := aws.ToString(m.MessageAttributes["reason_poisoned"].StringValue)
		switch {
		case reason == "":
			t.Errorf("dead letter %.60q has no reason attribute", body)
		case body == reused && !strings.Contains(reason, "reuse-1 was already used for another command"):
			t.Errorf("dead letter of the reused id gives the reason %q, which does not say the id was used before", reason)
		}
	}
	for _, h := range hostile {
		if !bodies[strings.ToValidUTF8(h.body, "\uFFFD")] {
			t.Errorf("given %s then its message is dead-lettered; the dead-letter queue does not hold it", h.name)
		}
	}
	if !bodies[reused] {
		t.Error("given a command id reused for another command then the second message is dead-lettered; it is not")
	}
	if len(dead) != want {
		t.Errorf("the dead-letter queue held %d messages, want %d", len(dead), want)
	}

	if err := w.Ready(); err != nil {
		t.Errorf("worker after the hostile messages: %v", err)
	}
	m := w.Metrics()
	invalid := testutil.ToFloat64(m.DeadLettered.WithLabelValues("commands", handlers.DeadLetterInvalid))
	reusedCount := testutil.ToFloat64(m.DeadLettered.WithLabelValues("commands", handlers.DeadLetterReusedID))
	if int(invalid) < len(hostile) || reusedCount < 1 {
		t.Errorf("metrics count %v invalid and %v reused-id dead letters, want %d and 1", invalid, reusedCount, len(hostile))
	}
	stop()
	t.Logf("%d hostile messages dead-lettered with invalid outcomes, 1 reused id dead-lettered; %d good commands applied", len(hostile), len(goodIDs)+2)
}

// checkAccepted checks that a command was accepted and wrote the one Locked event of stream.
func (s *stack) checkAccepted(t *testing.T, id, stream, user string) {
	t.Helper()
	ctx := context.Background()
	o, err := s.events.Outcome(ctx, id)
	if err != nil || o.Status != eventstore.OutcomeAccepted || o.Stream != stream || o.Version != 1 {
		t.Errorf("outcome of %s = %+v, %v; want accepted on %s at version 1", id, o, err, stream)
		return
	}
	recs, err := s.events.Load(ctx, stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].CommandID != id || !strings.Contains(string(recs[0].Body), fmt.Sprintf(`"user":%q`, user)) {
		t.Errorf("%s holds %d events (%v), want the one Locked event of %s by %s", stream, len(recs), recs, id, user)
	}
}
