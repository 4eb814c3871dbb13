package projectionstest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/projections"
)

// RunReplayWhileLive applies a workload live while full, single-projection and single-stream
// replays run, writers and the live projector never pausing; when all is done the read
// model must equal the reference model of every event.
func RunReplayWhileLive(t *testing.T, b Backend, events int) {
	ctx := context.Background()
	if _, err := projections.Init(ctx, b.Store); err != nil {
		t.Fatalf("Init: %v", err)
	}
	p, err := projections.NewProjector(projections.ProjectorConfig{Store: b.Store, Events: b.Events})
	if err != nil {
		t.Fatal(err)
	}
	bus := &retryingBus{ctx: ctx, p: p}
	publish := bus.publish
	load := NewLoad(b.Events, WorkloadConfig{Seed: 2})
	if _, err := load.Run(ctx, events/2, publish); err != nil {
		t.Fatal(err)
	}

	var halt atomic.Bool
	stop, stopped := func() { halt.Store(true) }, halt.Load
	done := make(chan struct{})
	var written int
	var loadErr error
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			default:
			}
			n, err := load.Run(ctx, 20, publish)
			written += n
			if err != nil {
				loadErr = err
				return
			}
			if written >= events/2 && stopped() {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()

	r := replayer(t, b, nil)
	var caughtUp int64
	for _, scope := range []projections.ReplayScope{
		{},
		{Projection: projections.ProjectionBuilds},
		{Stream: "repo:u0/r0"},
		{Stream: "status:pkg1/dev/1.0.1"},
	} {
		res, err := r.Replay(ctx, scope)
		if err != nil {
			stop()
			<-done
			t.Fatalf("Replay %+v: %v", scope, err)
		}
		caughtUp += res.CaughtUp
	}
	stop()
	<-done
	if loadErr != nil {
		t.Fatalf("live load: %v", loadErr)
	}
	if caughtUp == 0 {
		t.Error("the replays caught up no event: nothing was written while they ran")
	}
	ref, err := Reference(ctx, b.Events)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(dump(t, b.Store), ref); d != "" {
		t.Fatalf("after replays under live load (%d events written meanwhile) the model differs from the reference:\n%s", written, d)
	}
	t.Logf("%d events written while replaying; %d caught up; live deliveries retried: %d on fenced streams, %d for other reasons",
		written, caughtUp, bus.rebuilding.Load(), bus.otherRetries.Load())
}

// retryingBus is the event bus and the worker: it retries what cannot be applied now, as a
// redelivered message would be, for up to a minute.
type retryingBus struct {
	ctx                      context.Context
	p                        *projections.Projector
	rebuilding, otherRetries atomic.Int64
}

func (b *retryingBus) publish(rec eventstore.Record) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := b.p.Apply(b.ctx, rec)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		if errors.Is(err, projections.ErrStreamRebuilding) {
			b.rebuilding.Add(1)
		} else {
			b.otherRetries.Add(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RunConcurrentApply appends a workload of at least events events, then has 3 goroutines,
// each with its own Projector, apply every event, each starting at another third of the
// events; the rows must equal the reference model.
func RunConcurrentApply(t *testing.T, b Backend, events int) {
	ctx := context.Background()
	if _, err := projections.Init(ctx, b.Store); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if _, err := Workload(ctx, b.Events, WorkloadConfig{Events: events, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	var all []eventstore.Record
	for after := ""; ; {
		page, err := b.Events.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Records...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			p, err := projections.NewProjector(projections.ProjectorConfig{Store: b.Store, Events: b.Events, MaxAttempts: 50})
			if err != nil {
				t.Error(err)
				return
			}
			for i := range all {
				rec := all[(i+g*len(all)/3)%len(all)]
				if err := p.Apply(ctx, rec); err != nil {
					t.Errorf("goroutine %d: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	ref, err := Reference(ctx, b.Events)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(dump(t, b.Store), ref); d != "" {
		t.Errorf("concurrent application differs from the reference:\n%s", d)
	}
}
