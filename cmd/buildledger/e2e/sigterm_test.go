package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
		perRepo  = 12
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
	for done := 0; done < commands/5; {
		done = 0
		for _, id := range ids {
			if _, err := c.events.Outcome(ctx, id); err == nil {
				done++
			} else if !errors.Is(err, eventstore.ErrNotFound) {
				t.Fatal(err)
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the first worker applied too few commands in time")
		}
		time.Sleep(50 * time.Millisecond)
	}
	first.terminate(t)
	before := 0
	for _, id := range ids {
		if _, err := c.events.Outcome(ctx, id); err == nil {
			before++
		}
	}
	t.Logf("%d of %d commands had an outcome when the first worker stopped", before, commands)

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
