package faulttest

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/client"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/awstest"
	"buildledger/internal/logbuf"
	"buildledger/internal/workertest"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
	"buildledger/snapshots"
)

// stack is one test's own tables, queues and topic, with fault-free clients to inspect them.
type stack struct {
	aws     aws.Config // configuration of the fault-free SQS and SNS clients
	names   handlers.Names
	ep      handlers.Endpoints
	ddb     *dynamodb.Client // fault-free client of the DynamoDB that holds the tables
	sqs     *sqs.Client
	rawSQS  *sqs.Client // sends bodies as they are, without checking the MD5 SQS returns
	sns     *sns.Client
	events  *esdynamo.Store
	reads   *projdynamo.Store
	queries *projections.Queries
	client  *client.Client
	logs    *logbuf.Buffer
}

// stackConfig tunes newStack.
type stackConfig struct {
	// DynamoDBEndpoint is the DynamoDB the tables live in; empty means the shared emulator.
	DynamoDBEndpoint string
	// VisibilityTimeoutSeconds is the queues' visibility timeout: how soon a message whose
	// handling failed or whose worker died is delivered again. Default 3.
	VisibilityTimeoutSeconds int
	// MaxReceiveCount is how many deliveries SQS makes before dead-lettering; default 100, so
	// that only messages the worker itself dead-letters end in the dead-letter queue.
	MaxReceiveCount int
	// NoTables leaves the tables to be created by someone else (`buildledger init`).
	NoTables bool
}

// newStack provisions the queues and topic (and, unless cfg.NoTables, the tables) under a
// prefix of the test's own; they are deleted when the test ends.
func newStack(t *testing.T, what string, cfg stackConfig) *stack {
	t.Helper()
	if cfg.VisibilityTimeoutSeconds == 0 {
		cfg.VisibilityTimeoutSeconds = 3
	}
	if cfg.MaxReceiveCount == 0 {
		cfg.MaxReceiveCount = 100
	}
	ctx := context.Background()
	awsCfg := awstest.Config(t)
	names, err := handlers.NewNames(awstest.Prefix(t, what))
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{
		aws:   awsCfg,
		names: names,
		ddb:   dynamoClient(awsCfg, cfg.DynamoDBEndpoint, nil),
		sqs:   sqs.NewFromConfig(awsCfg),
		// The SDK's JSON encoding replaces invalid UTF-8 by U+FFFD, so the MD5 of a body that
		// holds some cannot match the one SQS computes; what arrives is checked instead.
		rawSQS: sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.DisableMessageChecksumValidation = true }),
		sns:    sns.NewFromConfig(awsCfg),
		logs:   &logbuf.Buffer{},
	}
	a, err := app.New(app.Config{AWS: awsCfg, Names: names, DynamoDB: s.ddb, SQS: s.sqs, SNS: s.sns})
	if err != nil {
		t.Fatal(err)
	}
	s.ep, _, err = a.ProvisionMessaging(ctx, handlers.MessagingConfig{
		MaxReceiveCount:          cfg.MaxReceiveCount,
		VisibilityTimeoutSeconds: cfg.VisibilityTimeoutSeconds,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.NoTables {
		if _, err := a.CreateTables(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s.events, s.reads, s.queries = a.Events, a.Reads, a.Queries
	if s.client, err = a.Client(s.ep.CommandsQueueURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prefix %s; last worker logs:\n%s", names.Prefix, s.logs.Tail(150))
		}
		s.delete(t, cfg.DynamoDBEndpoint == "")
	})
	return s
}

// dynamoClient returns a DynamoDB client of cfg, at endpoint when it is not empty, with
// opts applied last.
func dynamoClient(cfg aws.Config, endpoint string, opts func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		if opts != nil {
			opts(o)
		}
	})
}

// delete removes the stack's queues and topic and, when asked, its tables.
func (s *stack) delete(t *testing.T, tables bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, url := range []string{s.ep.CommandsQueueURL, s.ep.CommandsDLQURL, s.ep.ProjectorQueueURL, s.ep.ProjectorDLQURL, s.ep.TimersQueueURL, s.ep.TimersDLQURL} {
		_, _ = s.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	}
	_, _ = s.sns.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(s.ep.EventsTopicARN)})
	if !tables {
		return
	}
	awstest.DeleteTables(ctx, t, s.ddb, s.names.Prefix)
}

// workerConfig says how startWorker wires a worker.
type workerConfig struct {
	// AWS configures the worker's SQS and SNS clients; default the stack's fault-free one.
	AWS *aws.Config
	// DynamoDB is the worker's DynamoDB client (events, snapshots, read models); default the
	// stack's fault-free one.
	DynamoDB *dynamodb.Client
	// SnapshotEvery is the snapshot interval in events; default 5.
	SnapshotEvery int
	// Parallelism is how many commands, and how many events, the worker handles at once;
	// default 8.
	Parallelism int
	// NoProjector runs a worker that decides commands but applies no events: they wait in
	// the projector queue.
	NoProjector bool
}

// startWorker runs an in-process worker until the returned stop is called or the test ends.
func (s *stack) startWorker(t *testing.T, wc workerConfig) (*handlers.Worker, func()) {
	t.Helper()
	awsCfg := s.aws
	if wc.AWS != nil {
		awsCfg = *wc.AWS
	}
	ddb := s.ddb
	if wc.DynamoDB != nil {
		ddb = wc.DynamoDB
	}
	if wc.SnapshotEvery == 0 {
		wc.SnapshotEvery = 5
	}
	// The worker's own installation: the same tables and queues, through its clients.
	a, err := app.New(app.Config{AWS: awsCfg, Names: s.names, DynamoDB: ddb})
	if err != nil {
		t.Fatal(err)
	}
	cfg := workertest.Config(s.ep, s.logs)
	cfg.Commands = handlers.CommandHandlerConfig{SnapshotPolicy: snapshots.EveryN(wc.SnapshotEvery)}
	cfg.Parallelism = wc.Parallelism
	return workertest.StartApp(t, a, app.WorkerConfig{WorkerConfig: cfg, NoProjector: wc.NoProjector})
}

// sendRaw puts a message body on the commands queue as it is and returns its SQS message id.
func (s *stack) sendRaw(t *testing.T, group, dedup string, body []byte) string {
	t.Helper()
	return workertest.Send(t, s.rawSQS, s.ep.CommandsQueueURL, group, dedup, body)
}

// drainQueue receives and deletes the messages of a queue until at least want came and a
// receive finds no more, or timeout passes, and returns them. Deleting frees a FIFO group
// for its next message.
func (s *stack) drainQueue(t *testing.T, url string, want int, timeout time.Duration) []sqstypes.Message {
	t.Helper()
	ctx := context.Background()
	var got []sqstypes.Message
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive from %s: %v", url, err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := s.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("delete from %s: %v", url, err)
			}
		}
		if len(out.Messages) == 0 && len(got) >= want {
			break
		}
	}
	return got
}

// waitFor polls cond until it holds or timeout passes; cond's text says how far it got.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, progress := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (%s)", timeout, what, progress)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// forEach runs fn on every item with n goroutines and returns the errors joined.
func forEach[T any](n int, items []T, fn func(T) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan T)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range next {
				if err := fn(it); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// envOr returns the value of an environment variable, or def when it is unset.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
