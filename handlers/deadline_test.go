package handlers_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/client"
	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

// deadlineMessage is a command message with a notAfter, as the client sends it.
func deadlineMessage(t *testing.T, id string, cmd domain.Command, notAfter time.Time) handlers.Envelope {
	t.Helper()
	body, err := client.Marshal(cmd, id, client.WithNotAfter(notAfter))
	if err != nil {
		t.Fatal(err)
	}
	return handlers.Envelope{Body: body, MessageID: "msg-" + id}
}

func TestCommandHandler_GivenDeadline_WhenDecided_ThenTakesEffectOnlyBeforeIt(t *testing.T) {
	tests := []struct {
		name       string
		notAfter   time.Time
		wantStatus string
		wantCode   string
		wantEvents int
	}{
		{"given a deadline in the future then the lock is granted", testNow.Add(time.Second), eventstore.OutcomeAccepted, "", 1},
		{"given the deadline is now then the lock is granted", testNow, eventstore.OutcomeAccepted, "", 1},
		{"given a deadline just passed then rejected as expired and nothing appended", testNow.Add(-time.Nanosecond), eventstore.OutcomeRejected, eventstore.RejectionExpired, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			res, err := f.handler.Handle(context.Background(), deadlineMessage(t, "bob-1", domain.Lock{Env: "prod", User: "bob"}, tt.notAfter))
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if res.Outcome.Status != tt.wantStatus || res.Outcome.Code != tt.wantCode {
				t.Fatalf("outcome %+v, want %s with code %q", res.Outcome, tt.wantStatus, tt.wantCode)
			}
			if n := len(f.stream(t, "lock:prod")); n != tt.wantEvents {
				t.Errorf("lock:prod has %d events, want %d", n, tt.wantEvents)
			}
			stored, err := f.events.Outcome(context.Background(), "bob-1")
			if err != nil || stored.Status != tt.wantStatus || stored.Code != tt.wantCode {
				t.Errorf("stored outcome %+v, %v; want %s with code %q", stored, err, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

// The race of the deploy-lock defect: a client gives up on a lock attempt that the worker
// has not decided yet (paused, killed, slow). Whoever writes the outcome first wins.
func TestCommandHandler_GivenClientWithdrewAttempt_WhenWorkerDecidesItLater_ThenItNeverTakesEffect(t *testing.T) {
	f := newFixture(t)
	c, err := client.New(client.Config{SQS: noSQS(), QueueURL: "unused", Outcomes: f.events, Recorder: f.events})
	if err != nil {
		t.Fatal(err)
	}
	f.mustAccept(t, "alice-1", domain.Lock{Env: "prod", User: "alice"})
	f.mustAccept(t, "alice-2", domain.Release{Env: "prod", User: "alice"})
	bob := domain.Lock{Env: "prod", User: "bob"}
	// bob's attempt is in the queue with a deadline still ahead of the worker's clock, and
	// bob gives up first.
	o, withdrawn, err := c.Withdraw(context.Background(), "bob-1", bob, context.DeadlineExceeded)
	if err != nil || !withdrawn || o.Code != eventstore.RejectionExpired {
		t.Fatalf("Withdraw = %+v, %v, %v; want withdrawn", o, withdrawn, err)
	}
	res, err := f.handler.Handle(context.Background(), deadlineMessage(t, "bob-1", bob, testNow.Add(time.Hour)))
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if !res.Duplicate || res.Outcome.Status != eventstore.OutcomeRejected || res.Outcome.Code != eventstore.RejectionExpired {
		t.Fatalf("worker's result %+v, want the withdrawn outcome as a duplicate", res)
	}
	if recs := f.stream(t, "lock:prod"); len(recs) != 2 {
		t.Fatalf("lock:prod has %d events, want alice's 2 only (bob must not hold it)", len(recs))
	}
}

func TestCommandHandler_GivenWorkerDecidedFirst_WhenClientWithdraws_ThenClientLearnsTheOutcome(t *testing.T) {
	f := newFixture(t)
	c, err := client.New(client.Config{SQS: noSQS(), QueueURL: "unused", Outcomes: f.events, Recorder: f.events})
	if err != nil {
		t.Fatal(err)
	}
	bob := domain.Lock{Env: "prod", User: "bob"}
	f.mustAccept(t, "bob-1", bob)
	o, withdrawn, err := c.Withdraw(context.Background(), "bob-1", bob, context.Canceled)
	if err != nil || withdrawn || o.Status != eventstore.OutcomeAccepted {
		t.Fatalf("Withdraw = %+v, %v, %v; want the accepted outcome, not withdrawn", o, withdrawn, err)
	}
}

func TestCommandHandler_GivenRuleRejection_ThenOutcomeCarriesStableCode(t *testing.T) {
	tests := []struct {
		name  string
		setup []domain.Command
		cmd   domain.Command
		code  string
	}{
		{"given someone else holds the env then locked", []domain.Command{domain.Lock{Env: "prod", User: "alice"}}, domain.Lock{Env: "prod", User: "bob"}, domain.CodeLocked},
		{"given a release by a non-holder then not_holder", []domain.Command{domain.Lock{Env: "prod", User: "alice"}}, domain.Release{Env: "prod", User: "bob"}, domain.CodeNotHolder},
		{"given a plain release of an uberlock then uberlocked", []domain.Command{domain.Lock{Env: "prod", User: "alice", Uberlock: true}}, domain.Release{Env: "prod", User: "alice"}, domain.CodeUberlocked},
		{"given ending a job that is not running then job_not_running", nil, domain.EndJob{Jobname: "deploy", Version: "abc"}, domain.CodeJobNotRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for i, c := range tt.setup {
				f.mustAccept(t, "setup-"+string(rune('a'+i)), c)
			}
			res, err := f.handle(t, "probe", tt.cmd)
			if err != nil || res.Outcome.Status != eventstore.OutcomeRejected || res.Outcome.Code != tt.code {
				t.Fatalf("outcome %+v, %v; want rejected with code %q", res.Outcome, err, tt.code)
			}
		})
	}
}

// noSQS is an SQS client for a client.Client that never sends.
func noSQS() *sqs.Client { return sqs.New(sqs.Options{Region: "us-east-1"}) }
