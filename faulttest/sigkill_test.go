package faulttest

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"buildledger/internal/logbuf"
)

func TestSIGKILL_GivenWorkerProcessKilledFiveTimesDuringBursts_WhenRestarted_ThenEveryCommandAppliedOnceAndReadModelsEqualReplay(t *testing.T) {
	t.Parallel()
	const (
		streams, perStream = 24, 18
		kills              = 5
		waves              = kills + 1
	)
	start := time.Now()
	// A short visibility timeout brings back quickly what a killed worker had received.
	s := newStack(t, "sigkill", stackConfig{VisibilityTimeoutSeconds: 2, NoTables: true})
	out := s.runBinary(t, "init")
	if !strings.Contains(out, "created table "+s.names.EventsTable) {
		t.Fatalf("init did not create the events table:\n%s", out)
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("random seed %d", seed)
	plans := acceptableWorkload("k", streams, perStream)
	perWave := perStream / waves
	var all []*logbuf.Buffer
	worker := func() *process {
		logs := &logbuf.Buffer{}
		all = append(all, logs)
		p := s.startProcess(t, logs, "worker", "--snapshot-every", "4", "--parallelism", "8")
		p.waitLog(t, `"worker running"`, 60*time.Second)
		return p
	}
	stored := func() int64 {
		n, err := s.storedEvents(plans)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	for round := range kills {
		if err := sendPlans(context.Background(), s.client, plans, round*perWave, (round+1)*perWave); err != nil {
			t.Fatal(err)
		}
		p := worker()
		after := time.Duration(100+rng.IntN(1400)) * time.Millisecond
		time.Sleep(after)
		p.kill(t)
		t.Logf("kill %d: SIGKILL %v after the worker ran; %d of %d events stored so far", round+1, after, stored(), (round+1)*perWave*streams)
	}
	if err := sendPlans(context.Background(), s.client, plans, kills*perWave, perStream); err != nil {
		t.Fatal(err)
	}
	last := worker()
	s.waitStreams(t, plans, perStream, 120*time.Second)
	s.waitProjected(t, plans, 60*time.Second)
	stopStart := time.Now()
	if err := last.terminate(t, 40*time.Second); err != nil {
		t.Errorf("worker on SIGTERM: %v\n%s", err, last.logs.Tail(20))
	} else {
		t.Logf("worker stopped on SIGTERM in %v", time.Since(stopStart).Round(time.Millisecond))
	}

	s.checkExactlyOnce(t, plans)
	s.checkReplayMatches(t)
	s.checkNoDeadLetters(t)
	for i, logs := range all {
		if strings.Contains(logs.String(), "DATA RACE") {
			t.Errorf("worker process %d reported a data race:\n%s", i+1, logs.Tail(80))
		}
	}
	if t.Failed() {
		for i, logs := range all {
			t.Logf("worker process %d logs:\n%s", i+1, logs.Tail(30))
		}
	}
	t.Logf("%d commands, %d SIGKILLs, done in %v", streams*perStream, kills, time.Since(start).Round(time.Millisecond))
}
