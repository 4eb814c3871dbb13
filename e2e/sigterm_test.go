package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
)

// SIGTERM while a burst is being handled: the worker finishes what it has in flight and
// exits; a new worker takes the rest. Every command takes effect exactly once.
func TestGivenABurst_WhenTheWorkerIsStoppedWithSIGTERMMidway_ThenARestartedWorkerAppliesEveryCommandOnce(t *testing.T) {
	t.Parallel()
	const (
		repos    = 10
		perRepo  = 40
		commands = repos * perRepo
	)
	in := newInstallation(t, "e2e-sigterm")
	c := in.clients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first := in.launchWorker(t)
	ids := make([]string, 0, commands)
	for i := range commands {
		cmd := domain.CreateBuild{User: "sigterm", Repo: fmt.Sprintf("repo%d", i%repos), Tag: fmt.Sprintf("t%d", i), Browsers: []string{"A"}}
		id, err := c.commands.Send(ctx, cmd)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	// Stop the first worker once it has done part of the burst, but not all of it.
	streams := make([]string, repos)
	for r := range repos {
		streams[r] = domain.RepoStreamID("sigterm", fmt.Sprintf("repo%d", r))
	}
	applied := func() int64 {
		var n int64
		for _, stream := range streams {
			v, err := c.events.Version(ctx, stream)
			if err != nil {
				t.Fatal(err)
			}
			n += v
		}
		return n
	}
	for applied() < commands/10 {
		if ctx.Err() != nil {
			t.Fatal("the first worker applied too few commands in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
	first.terminate(t)
	before := applied()
	t.Logf("%d of %d commands were applied when the first worker stopped", before, commands)
	// The worker deletes what it finished before it exits: no message is left in flight,
	// to come back only after the visibility timeout.
	if n := in.messagesInFlight(t); n != 0 {
		t.Errorf("%d command messages are still in flight after the worker stopped", n)
	}

	in.startWorker(t)
	for i, id := range ids {
		o, err := c.commands.WaitOutcome(ctx, id)
		if err != nil {
			t.Fatalf("command %d (%s): %v", i, id, err)
		}
		if o.Status != eventstore.OutcomeAccepted {
			t.Fatalf("command %d: outcome %+v, want accepted", i, o)
		}
	}
	for r := range repos {
		repo := fmt.Sprintf("repo%d", r)
		stream := domain.RepoStreamID("sigterm", repo)
		recs, err := c.events.Load(ctx, stream, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != perRepo {
			t.Fatalf("%s holds %d events, want %d: a command took effect twice or not at all", stream, len(recs), perRepo)
		}
		for i, rec := range recs {
			if rec.Version != int64(i+1) || rec.Type != "BuildCreated" {
				t.Fatalf("%s event %d: version %d type %s", stream, i, rec.Version, rec.Type)
			}
		}
		if err := c.commands.WaitProjected(ctx, stream, perRepo); err != nil {
			t.Fatal(err)
		}
		if _, err := c.queries.Build(ctx, "sigterm", repo, perRepo); err != nil {
			t.Fatalf("build %d of %s: %v", perRepo, repo, err)
		}
		if _, err := c.queries.Build(ctx, "sigterm", repo, perRepo+1); !errors.Is(err, projections.ErrNotFound) {
			t.Fatalf("build %d of %s: %v, want not found", perRepo+1, repo, err)
		}
	}
}

// messagesInFlight returns how many messages of the commands queue were received and not
// deleted.
func (in *installation) messagesInFlight(t *testing.T) int {
	t.Helper()
	a, ep := in.messaging(t)
	out, err := a.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(ep.CommandsQueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	if err != nil {
		t.Fatalf("ApproximateNumberOfMessagesNotVisible: %v", err)
	}
	return n
}
