package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/client"
	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
)

func TestSend_GivenTextSQSRefuses_ThenItTravelsEscapedAndDecodesToTheSameCommand(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url})
	// U+FFFF is outside the characters SQS accepts; the emulator also refuses emoji.
	cmd := domain.Lock{Env: "prod", User: "alice", Meta: "a\uffffb ship it 🚀 café"}
	if _, err := c.Send(context.Background(), cmd); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := receiveAll(t, sqsc, url)
	if len(msgs) != 1 {
		t.Fatalf("queue holds %d messages, want 1", len(msgs))
	}
	var got domain.Lock
	if err := json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Meta != cmd.Meta {
		t.Errorf("meta arrived as %q, want %q", got.Meta, cmd.Meta)
	}
}

func TestMarshal_GivenNotAfter_ThenEnvelopeCarriesItInUTC(t *testing.T) {
	at := time.Date(2026, 12, 1, 15, 4, 5, 600, time.FixedZone("CET", 3600))
	body, err := client.Marshal(domain.Lock{Env: "prod", User: "alice"}, "c1", client.WithNotAfter(at))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if env["notAfter"] != "2026-12-01T14:04:05.0000006Z" {
		t.Errorf("notAfter = %v, want the deadline in UTC", env["notAfter"])
	}
}

func TestDo_GivenNoOutcomeBeforeDeadline_ThenCommandIsWithdrawnAndSaysSo(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	store := esmemory.New()
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url, Outcomes: store, Recorder: store, PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Do(ctx, domain.Lock{Env: "prod", User: "bob"})
	var withdrawn *client.WithdrawnError
	if !errors.As(err, &withdrawn) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want a *WithdrawnError caused by the deadline", err)
	}
	o, err := store.Outcome(context.Background(), withdrawn.CommandID)
	if err != nil || o.Status != eventstore.OutcomeRejected || o.Code != eventstore.RejectionExpired || o.BodyHash == "" {
		t.Fatalf("stored outcome %+v, %v; want rejected, expired, with the command's hash", o, err)
	}
	msgs := receiveAll(t, sqsc, url)
	if len(msgs) != 1 {
		t.Fatalf("queue holds %d messages, want the one attempt", len(msgs))
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(msgs[0].Body)), &env); err != nil || env["notAfter"] == nil || env["id"] != withdrawn.CommandID {
		t.Errorf("sent %v, want the withdrawn id with a notAfter", env)
	}
}

func TestSettle_GivenOutcomeStoreUnreachable_ThenOutcomeIsUnknownUntilDeadline(t *testing.T) {
	t.Parallel()
	store := failingRecorder{esmemory.New()}
	c := newClient(t, client.Config{SQS: noSQS(), QueueURL: "unused", Outcomes: store, Recorder: store})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	deadline := time.Now().Add(time.Minute)
	_, err := c.Settle(ctx, "c1", domain.Lock{Env: "prod", User: "bob"}, deadline, context.Cause(ctx))
	var unknown *client.UnknownOutcomeError
	if !errors.As(err, &unknown) || !unknown.NotAfter.Equal(deadline) {
		t.Fatalf("Settle = %v, want an *UnknownOutcomeError naming the deadline", err)
	}
}

// A send that fails may still have enqueued the command; Do withdraws it, so the error it
// returns is the whole truth.
func TestDo_GivenSendFails_ThenCommandIsWithdrawnAndTheErrorSaysWhy(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	store := esmemory.New()
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url + "-missing", Outcomes: store, Recorder: store})
	_, err := c.Do(context.Background(), domain.Lock{Env: "prod", User: "bob"})
	var withdrawn *client.WithdrawnError
	if !errors.As(err, &withdrawn) || withdrawn.Cause == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want a *WithdrawnError caused by the failed send", err)
	}
	if o, err := store.Outcome(context.Background(), withdrawn.CommandID); err != nil || o.Code != eventstore.RejectionExpired {
		t.Errorf("stored outcome %+v, %v; want the withdrawal", o, err)
	}
}

// failingRecorder is an outcome store that cannot be written, as when DynamoDB is unreachable.
type failingRecorder struct{ *esmemory.Store }

// noSQS is an SQS client for a client.Client that never sends.
func noSQS() *sqs.Client { return sqs.New(sqs.Options{Region: "us-east-1"}) }

func (failingRecorder) RecordOutcome(context.Context, eventstore.Outcome) error {
	return errors.New("dynamodb: connection refused")
}
