package faulttest

import (
	"context"
	"testing"
	"time"
)

// While the projector is down, the events of each stream pile up in the projector queue;
// when it comes back, consecutive events of one stream are applied by parallel deliveries
// at the same time, each racing the other's write. The outage happens several times.
func TestProjectorBacklog_GivenEventsPiledUpWhileProjectorWasDown_WhenItCatchesUpInParallel_ThenReadModelsEqualReplay(t *testing.T) {
	t.Parallel()
	const streams, perStream, outages = 24, 20, 2
	start := time.Now()
	s := newStack(t, "backlog", stackConfig{})
	plans := acceptableWorkload("b", streams, perStream)
	per := perStream / outages
	for round := range outages {
		_, stopDecider := s.startWorker(t, workerConfig{NoProjector: true, Parallelism: 16})
		if err := sendPlans(context.Background(), s.client, plans, round*per, (round+1)*per); err != nil {
			t.Fatal(err)
		}
		s.waitStreams(t, plans, (round+1)*per, 90*time.Second)
		stopDecider()
		// Two workers come back, as after a deployment.
		_, stop1 := s.startWorker(t, workerConfig{Parallelism: 32})
		_, stop2 := s.startWorker(t, workerConfig{Parallelism: 32})
		s.waitProjectedUpTo(t, plans, (round+1)*per, 90*time.Second)
		stop1()
		stop2()
	}
	t.Logf("%d events applied after %d projector outages, in %v", streams*perStream, outages, time.Since(start).Round(time.Millisecond))

	s.checkExactlyOnce(t, plans)
	s.checkReplayMatches(t)
}
