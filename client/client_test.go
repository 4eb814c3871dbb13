package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/client"
	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/internal/awstest"
)

// newQueue creates a FIFO commands queue of its own for the test.
func newQueue(t *testing.T) (*sqs.Client, string) {
	t.Helper()
	c := awstest.SQS(t)
	out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{
		QueueName:  aws.String(awstest.Prefix(t, "client") + "commands.fifo"),
		Attributes: map[string]string{"FifoQueue": "true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, aws.ToString(out.QueueUrl)
}

func receiveAll(t *testing.T, c *sqs.Client, url string) []sqstypes.Message {
	t.Helper()
	var all []sqstypes.Message
	for {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return all
		}
		for _, m := range out.Messages {
			all = append(all, m)
			if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSend_GivenValidCommand_ThenEnvelopeOnQueueGroupedByStreamAndDeduplicatedByID(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url})
	cmd := domain.Lock{Env: "prod", User: "alice", Meta: "deploy 42"}
	id, err := c.Send(context.Background(), cmd, client.WithCorrelationID("deploy-42"))
	if err != nil {
		t.Fatal(err)
	}
	// The same id again within the deduplication window is dropped by SQS.
	if _, err := c.Send(context.Background(), cmd, client.WithID(id)); err != nil {
		t.Fatal(err)
	}

	msgs := receiveAll(t, sqsc, url)
	if len(msgs) != 1 {
		t.Fatalf("queue held %d messages, want 1 (the resend deduplicated)", len(msgs))
	}
	m := msgs[0]
	if g := m.Attributes["MessageGroupId"]; g != "lock:prod" {
		t.Errorf("message group = %q, want the stream lock:prod", g)
	}
	if d := m.Attributes["MessageDeduplicationId"]; d != id {
		t.Errorf("deduplication id = %q, want the command id %q", d, id)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil {
		t.Fatal(err)
	}
	if env["type"] != "Lock" || env["id"] != id || env["env"] != "prod" || env["user"] != "alice" {
		t.Errorf("envelope = %v, want type, id and the command's fields at the top level", env)
	}
	if meta, _ := env["metadata"].(map[string]any); meta["correlationId"] != "deploy-42" {
		t.Errorf("metadata = %v, want the correlation id", env["metadata"])
	}
	fields, err := domain.ObjectMembers([]byte(aws.ToString(m.Body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "id", "metadata"} {
		delete(fields, k)
	}
	got, err := domain.DecodeCommandFields("Lock", fields)
	if err != nil || got != cmd {
		t.Errorf("decoded %#v, %v; want %#v", got, err, cmd)
	}
}

func TestSend_GivenInvalidCommand_ThenErrorAndNothingSent(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url})
	_, err := c.Send(context.Background(), domain.Lock{Env: "prod"})
	if !errors.Is(err, domain.ErrInvalidCommand) || !strings.HasPrefix(err.Error(), "client: ") {
		t.Fatalf("error = %v, want a client error matching domain.ErrInvalidCommand", err)
	}
	if _, err := c.Send(context.Background(), domain.Lock{Env: "prod", User: "alice"}, client.WithID("has space")); err == nil {
		t.Fatal("an id with white space was accepted")
	}
	if msgs := receiveAll(t, sqsc, url); len(msgs) != 0 {
		t.Fatalf("queue held %d messages, want none", len(msgs))
	}
}

func TestSendRaw_GivenBodyWithoutID_ThenReturnsTheSQSMessageID(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url})
	id, err := c.SendRaw(context.Background(), "lock:prod", "", []byte(`{"type":"Lock","env":"prod","user":"ci"}`))
	if err != nil {
		t.Fatal(err)
	}
	msgs := receiveAll(t, sqsc, url)
	if len(msgs) != 1 || aws.ToString(msgs[0].MessageId) != id {
		t.Fatalf("SendRaw returned %q; queue held %+v", id, msgs)
	}
}

func TestGroupID_GivenStreamSQSRefuses_ThenStableHash(t *testing.T) {
	for _, s := range []string{"repo:api/foo", "status:@scope/pkg/prod/1.0.0"} {
		if got := client.GroupID(s); got != s {
			t.Errorf("GroupID(%q) = %q, want it unchanged", s, got)
		}
	}
	odd := "repo:José/my repo"
	got := client.GroupID(odd)
	if got == odd || got != client.GroupID(odd) || len(got) > 128 || !strings.HasPrefix(got, "sha256-") {
		t.Errorf("GroupID(%q) = %q, want a stable sha256 group", odd, got)
	}
}

// newClient returns the client of cfg, which must be valid.
func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWaitOutcome_GivenStoredOutcomes_ThenTypedErrorsForRejectedAndInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := esmemory.New()
	for _, o := range []eventstore.Outcome{
		{CommandID: "r", Status: eventstore.OutcomeRejected, Reason: "Still locked at env prod by alice"},
		{CommandID: "i", Status: eventstore.OutcomeInvalid, Reason: "user: must not be empty"},
	} {
		if err := store.RecordOutcome(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Append(ctx, "lock:prod", 0, []eventstore.Event{{Type: "Locked", Body: json.RawMessage(`{}`)}}, eventstore.CommandRef{ID: "a"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, client.Config{SQS: noSQS(), QueueURL: "unused", Outcomes: store, PollInterval: 5 * time.Millisecond})

	var rejected *client.RejectedError
	if o, err := c.WaitOutcome(ctx, "r"); !errors.As(err, &rejected) || rejected.Reason != "Still locked at env prod by alice" || o.Status != eventstore.OutcomeRejected {
		t.Errorf("rejected: %+v, %v", o, err)
	}
	var invalid *client.InvalidError
	if _, err := c.WaitOutcome(ctx, "i"); !errors.As(err, &invalid) || invalid.Reason != "user: must not be empty" {
		t.Errorf("invalid: %v", err)
	}
	if o, err := c.WaitOutcome(ctx, "a"); err != nil || o.Version != 1 || o.Stream != "lock:prod" {
		t.Errorf("accepted: %+v, %v", o, err)
	}
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := c.WaitOutcome(short, "missing"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("missing: %v, want the deadline", err)
	}
}

// steppingPositions reports one more version of every stream on each call.
type steppingPositions struct{ calls atomic.Int64 }

func (p *steppingPositions) Position(context.Context, string) (int64, error) {
	return p.calls.Add(1) - 1, nil
}

func TestWaitProjected_GivenReadSideCatchingUp_ThenReturnsOnceItReachesTheVersion(t *testing.T) {
	t.Parallel()
	pos := &steppingPositions{}
	c := newClient(t, client.Config{SQS: noSQS(), QueueURL: "unused", Positions: pos, PollInterval: time.Millisecond})
	if err := c.WaitProjected(context.Background(), "lock:prod", 3); err != nil {
		t.Fatal(err)
	}
	if got := pos.calls.Load(); got != 4 {
		t.Errorf("polled %d times, want 4 (versions 0..3)", got)
	}
	noPositions, _ := client.New(client.Config{SQS: noSQS(), QueueURL: "unused"})
	if err := noPositions.WaitProjected(context.Background(), "lock:prod", 1); err == nil {
		t.Error("WaitProjected without a PositionReader succeeded")
	}
}

// projected is a read side that reflects a stream once told to.
type projected struct{ version atomic.Int64 }

func (p *projected) Position(context.Context, string) (int64, error) { return p.version.Load(), nil }

func TestDo_GivenWorkerAcceptsAndProjects_ThenReturnsOnlyAfterTheReadSideCaughtUp(t *testing.T) {
	t.Parallel()
	sqsc, url := newQueue(t)
	store := esmemory.New()
	read := &projected{}
	c := newClient(t, client.Config{SQS: sqsc, QueueURL: url, Outcomes: store, Positions: read, PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A stand-in worker: takes the message, commits one event, projects it a little later.
	go func() {
		for ctx.Err() == nil {
			out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1})
			if err != nil || len(out.Messages) == 0 {
				continue
			}
			var env struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &env)
			if _, err := store.Append(ctx, "lock:prod", 0, []eventstore.Event{{Type: "Locked", Body: json.RawMessage(`{}`)}}, eventstore.CommandRef{ID: env.ID}); err != nil {
				t.Error(err)
			}
			time.Sleep(100 * time.Millisecond)
			read.version.Store(1)
			return
		}
	}()

	o, err := c.Do(ctx, domain.Lock{Env: "prod", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != eventstore.OutcomeAccepted || o.Version != 1 {
		t.Fatalf("outcome = %+v, want accepted at version 1", o)
	}
	if read.version.Load() != 1 {
		t.Fatal("Do returned before the read side reflected the command")
	}
}
