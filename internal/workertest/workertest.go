// Package workertest runs a worker for a test: started, seen ready, and stopped cleanly
// when the test ends; and puts raw messages on its commands queue.
package workertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/handlers"
	"buildledger/internal/app"
)

// Timeouts of Start: a worker that takes longer is broken, not slow.
const (
	startWithin = 30 * time.Second
	stopWithin  = 60 * time.Second
)

// Start runs w until the returned stop is called or the test ends. It fails the test when
// the worker does not start, is not ready once running, does not stop in time, stops with
// an error, or still reports ready after stopping.
func Start(t testing.TB, w *handlers.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case <-w.Running():
	case err := <-done:
		cancel()
		t.Fatalf("worker stopped at start: %v", err)
	case <-time.After(startWithin):
		cancel()
		t.Fatalf("worker did not start within %s", startWithin)
	}
	if err := w.Ready(); err != nil {
		cancel()
		t.Fatalf("running worker not ready: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("worker Run: %v", err)
				}
			case <-time.After(stopWithin):
				t.Errorf("worker did not stop within %s", stopWithin)
				return
			}
			if w.Ready() == nil {
				t.Error("stopped worker still reports ready")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// StartApp builds a's worker of cfg and runs it as Start does; the test fails when the
// worker cannot be built.
func StartApp(t testing.TB, a *app.App, cfg app.WorkerConfig) (*handlers.Worker, func()) {
	t.Helper()
	w, err := a.Worker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w, Start(t, w)
}

// Send puts a message body on the commands queue as it is, with the given group and
// deduplication id, and returns its SQS message id.
func Send(t testing.TB, c *sqs.Client, queueURL, group, dedup string, body []byte) string {
	t.Helper()
	out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl:               aws.String(queueURL),
		MessageBody:            aws.String(string(body)),
		MessageGroupId:         aws.String(group),
		MessageDeduplicationId: aws.String(dedup),
	})
	if err != nil {
		t.Fatalf("send to %s: %v", queueURL, err)
	}
	return aws.ToString(out.MessageId)
}
