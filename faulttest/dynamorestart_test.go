package faulttest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/client"
)

func TestDynamoDBRestart_GivenCommandsArrivingContinuously_WhenDynamoDBLocalIsKilledAndRestarted_ThenWorkerRidesThroughAndLosesNothing(t *testing.T) {
	t.Parallel()
	const (
		streams, perStream = 16, 16
		interval           = 600 * time.Millisecond // between two commands of one stream
		down               = 2 * time.Second
	)
	start := time.Now()
	db := startDynamoDBLocal(t)
	s := newStack(t, "ddbrestart", stackConfig{DynamoDBEndpoint: db.Endpoint(), VisibilityTimeoutSeconds: 2})
	// The worker's DynamoDB client retries as the binary's does (the SDK's default three
	// attempts); the outage has to be ridden out by the worker's own retries and redelivery.
	ddb := dynamoClient(s.aws, db.Endpoint(), func(o *dynamodb.Options) { o.RetryMaxAttempts = 3 })
	w, stop := s.startWorker(t, workerConfig{DynamoDB: ddb, SnapshotEvery: 5})

	plans := acceptableWorkload("r", streams, perStream)
	var sent atomic.Int64
	sendDone := make(chan error, 1)
	go func() {
		sendDone <- forEach(len(plans), plans, func(p streamPlan) error {
			for _, pc := range p.Commands {
				if _, err := s.client.Send(context.Background(), pc.Command, client.WithID(pc.ID)); err != nil {
					return fmt.Errorf("send %s: %w", pc.ID, err)
				}
				sent.Add(1)
				time.Sleep(interval)
			}
			return nil
		})
	}()

	var before int64
	waitFor(t, 60*time.Second, "the worker to store some events", func() (bool, string) {
		n, err := s.storedEvents(plans)
		before = n
		return err == nil && n >= 24, fmt.Sprintf("%d stored, %v", n, err)
	})
	db.kill(t)
	killedAt := time.Now()
	t.Logf("DynamoDB Local killed after %v with %d events stored and %d of %d commands sent",
		time.Since(start).Round(time.Millisecond), before, sent.Load(), streams*perStream)
	time.Sleep(down)
	db.start(t)
	t.Logf("DynamoDB Local back after %v (restart took %v); %d commands sent by then",
		time.Since(killedAt).Round(time.Millisecond), (time.Since(killedAt) - down).Round(time.Millisecond), sent.Load())
	if n, err := s.storedEvents(plans); err != nil || n < before {
		t.Fatalf("after the restart %d events are stored (%v), %d were before: the restart lost data", n, err, before)
	}

	if err := <-sendDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("every command sent after %v", time.Since(start).Round(time.Millisecond))
	s.waitStreams(t, plans, perStream, 120*time.Second)
	t.Logf("every command decided after %v", time.Since(start).Round(time.Millisecond))
	s.waitProjected(t, plans, 60*time.Second)
	t.Logf("every event projected after %v", time.Since(start).Round(time.Millisecond))
	if err := w.Ready(); err != nil {
		t.Errorf("worker after the outage: %v", err)
	}
	stop()

	s.checkExactlyOnce(t, plans)
	s.checkReplayMatches(t)
	s.checkNoDeadLetters(t)
	m := w.Metrics()
	t.Logf("worker: %d failed handlings logged, %v duplicate deliveries, %v snapshots failed; done in %v",
		strings.Count(s.logs.String(), `"level":"error"`), testutil.ToFloat64(m.Duplicates), testutil.ToFloat64(m.SnapshotsFailed),
		time.Since(start).Round(time.Millisecond))
}
