package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

// Lease expiry on the emulators: the timers queue delays each timer with SQS's own
// DelaySeconds, so these tests wait for real leases of a few seconds.

// expirySlack is how long after its lease's end an expiry may be appended: the delay is
// rounded up to a second, then a receive, a decision and an append follow.
const expirySlack = 4 * time.Second

// waitForEvents waits until stream holds at least n events and returns them decoded.
func (s *stack) waitForEvents(t *testing.T, stream string, n int, within time.Duration) []domain.Event {
	t.Helper()
	var recs []eventstore.Record
	waitFor(t, within, fmt.Sprintf("%d events on %s", n, stream), func() bool {
		var err error
		recs, err = s.events.Load(context.Background(), stream, 1)
		return err == nil && len(recs) >= n
	})
	return decodeAll(t, recs)
}

func decodeAll(t *testing.T, recs []eventstore.Record) []domain.Event {
	t.Helper()
	out := make([]domain.Event, len(recs))
	for i, r := range recs {
		e, err := domain.DecodeEvent(r.Type, r.Body)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// sendTimer puts a raw message on the timers queue.
func sendTimer(t *testing.T, s *stack, body string) {
	t.Helper()
	if _, err := s.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(s.ep.TimersQueueURL), MessageBody: aws.String(body),
	}); err != nil {
		t.Fatal(err)
	}
}

// receiveOne returns the body of the next message on the queue at url.
func receiveOne(t *testing.T, s *stack, url string, within time.Duration) string {
	t.Helper()
	var body string
	waitFor(t, within, "a message on "+url, func() bool {
		out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return false
		}
		body = aws.ToString(out.Messages[0].Body)
		return true
	})
	return body
}

// lockWithLease has alice lock prod (command lock-1) with lease, waits for the Locked and
// returns the end of its lease.
func (s *stack) lockWithLease(t *testing.T, lease string) time.Time {
	t.Helper()
	s.send(t, "lock:prod", "lock-1", message(t, "lock-1", domain.Lock{Env: "prod", User: "alice", Lease: lease}))
	return leaseEnd(t, s.waitForEvents(t, "lock:prod", 1, 20*time.Second)[0])
}

// leaseEnd returns the lease end a Locked or LockRefreshed event sets.
func leaseEnd(t *testing.T, e domain.Event) time.Time {
	t.Helper()
	timer, ok := domain.LeaseTimerOf(e)
	if !ok {
		t.Fatalf("%T %+v sets no lease", e, e)
	}
	return timer.Due
}

// expiredAt checks that e is the LockExpired of the lease ending at end, appended soon
// after it.
func expiredAt(t *testing.T, e domain.Event, end time.Time) {
	t.Helper()
	exp, ok := e.(domain.LockExpired)
	if !ok {
		t.Fatalf("event is %T %+v, want LockExpired", e, e)
	}
	if !exp.ExpiresAt.Equal(end) {
		t.Errorf("LockExpired of the lease ending %v, want %v", exp.ExpiresAt, end)
	}
	late := exp.At.Sub(end)
	t.Logf("expired %v after the lease's end", late)
	if late < 0 || late > expirySlack {
		t.Errorf("LockExpired at %v, %v after the lease's end; want within 0..%v", exp.At, late, expirySlack)
	}
}

func TestWorker_GivenLockWithTwoSecondLeaseAndNobodyElse_ThenExpiredSoonAfterAndApplied(t *testing.T) {
	t.Parallel()
	s := newStack(t, "lease-expiry")
	applier := newRecordingApplier()
	w, _ := s.startWorker(t, applier)

	end := s.lockWithLease(t, "2s")

	events := s.waitForEvents(t, "lock:prod", 2, time.Until(end)+expirySlack+5*time.Second)
	expiredAt(t, events[1], end)
	waitFor(t, 20*time.Second, "the LockExpired applied to the read side", func() bool { return applier.deliveries("lock:prod", 2) >= 1 })
	// The counters move once a delivery is done, which may be after the read side saw it.
	m := w.Metrics()
	waitFor(t, 5*time.Second, "a timer counted as scheduled and as fired", func() bool {
		return testutil.ToFloat64(m.TimersScheduled) >= 1 && testutil.ToFloat64(m.TimersFired) >= 1
	})
	time.Sleep(time.Second) // a duplicate timer would append here
	if got := s.load(t, "lock:prod"); len(got) != 2 {
		t.Errorf("stream holds %v, want Locked and LockExpired only", types(got))
	}
}

func TestWorker_GivenRenewedLease_ThenFirstTimerChangesNothingAndExpiryAtRenewedEnd(t *testing.T) {
	t.Parallel()
	s := newStack(t, "lease-renewed")
	w, _ := s.startWorker(t, newRecordingApplier())

	first := s.lockWithLease(t, "2s")
	s.send(t, "lock:prod", "renew-1", message(t, "renew-1", domain.Renew{Env: "prod", User: "alice", Lease: "5s"}))
	renewed := leaseEnd(t, s.waitForEvents(t, "lock:prod", 2, 20*time.Second)[1])
	if time.Until(first) < 0 {
		t.Skipf("the renewal came after the first lease ended (%v); the emulators are too slow for this test", -time.Until(first))
	}

	waitFor(t, time.Until(first)+expirySlack+5*time.Second, "the first timer to fire", func() bool {
		return testutil.ToFloat64(w.Metrics().TimersFired) >= 1
	})
	if time.Now().After(renewed) {
		t.Fatalf("the first timer fired only after the renewed end")
	}
	if got := s.load(t, "lock:prod"); len(got) != 2 {
		t.Fatalf("after the first timer the stream holds %v, want Locked and LockRefreshed only", types(got))
	}

	events := s.waitForEvents(t, "lock:prod", 3, time.Until(renewed)+expirySlack+5*time.Second)
	expiredAt(t, events[2], renewed)
}

func TestWorker_GivenWorkerStoppedAfterGrant_WhenNewWorkerStartsAfterLeaseEnd_ThenLockStillExpires(t *testing.T) {
	t.Parallel()
	s := newStack(t, "lease-restart")
	_, stop := s.startWorker(t, newRecordingApplier())

	end := s.lockWithLease(t, "2s")
	stop()
	// Nobody runs while the lease ends: the timer waits in its queue.
	time.Sleep(time.Until(end) + time.Second)
	if got := s.load(t, "lock:prod"); len(got) != 1 {
		t.Fatalf("with no worker running the stream holds %v, want the Locked alone", types(got))
	}

	s.startWorker(t, newRecordingApplier())
	events := s.waitForEvents(t, "lock:prod", 2, 30*time.Second)
	if _, ok := events[1].(domain.LockExpired); !ok {
		t.Fatalf("event 2 is %T %+v, want LockExpired", events[1], events[1])
	}
	if exp := events[1].(domain.LockExpired); !exp.ExpiresAt.Equal(end) {
		t.Errorf("LockExpired of the lease ending %v, want %v", exp.ExpiresAt, end)
	}
}

func TestWorker_GivenDefaultLease_WhenLockAsksForNone_ThenItExpires(t *testing.T) {
	t.Parallel()
	s := newStack(t, "lease-default")
	s.startWorker(t, newRecordingApplier(), func(c *handlers.WorkerConfig) { c.Commands.DefaultLease = 2 * time.Second })

	s.send(t, "lock:prod", "lock-1", message(t, "lock-1", domain.Lock{Env: "prod", User: "alice"}))
	events := s.waitForEvents(t, "lock:prod", 1, 20*time.Second)
	locked := events[0].(domain.Locked)
	end := leaseEnd(t, locked)
	if got := end.Sub(locked.At); got != 2*time.Second {
		t.Fatalf("the lock's lease is %v, want the default 2s", got)
	}
	events = s.waitForEvents(t, "lock:prod", 2, time.Until(end)+expirySlack+5*time.Second)
	expiredAt(t, events[1], end)
}

func TestWorker_GivenMalformedTimerMessage_ThenDeadLetteredAndWorkerKeepsGoing(t *testing.T) {
	t.Parallel()
	s := newStack(t, "lease-poison")
	s.startWorker(t, newRecordingApplier())

	sendTimer(t, s, `{"env":"prod","when":"later"}`)
	dead := receiveOne(t, s, s.ep.TimersDLQURL, 20*time.Second)
	if dead != `{"env":"prod","when":"later"}` {
		t.Errorf("timers dead-letter queue holds %q, want the malformed timer", dead)
	}
	// A well-formed timer still works: one due now, for a lock that holds no lease,
	// settles it and changes nothing.
	s.send(t, "lock:prod", "lock-1", message(t, "lock-1", domain.Lock{Env: "prod", User: "alice"}))
	s.waitForEvents(t, "lock:prod", 1, 20*time.Second)
	timer := domain.LeaseTimer{Env: "prod", Token: 1, Due: time.Now().UTC().Truncate(time.Millisecond)}
	sendTimer(t, s, `{"env":"prod","token":1,"due":"`+timer.Due.Format(time.RFC3339Nano)+`"}`)
	waitFor(t, 20*time.Second, "the timer's outcome", func() bool {
		o, err := s.events.Outcome(context.Background(), handlers.ExpiryCommandID(timer))
		return err == nil && o.Status == eventstore.OutcomeAccepted
	})
	if got := s.load(t, "lock:prod"); len(got) != 1 {
		t.Errorf("stream holds %v, want the Locked alone", types(got))
	}
}
