package faulttest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/clockcheck"
	"buildledger/internal/feed"
	"buildledger/internal/httpapi"
	"buildledger/internal/workertest"
	"buildledger/snapshots"
)

// skewedWorker is an in-process worker whose clock is off by skew: it decides with it,
// keys its events with it, and checks it against the Date of the AWS answers it gets.
type skewedWorker struct {
	skew   time.Duration
	worker *handlers.Worker
	clock  *clockcheck.Check
}

func (s *stack) startSkewedWorker(t *testing.T, skew, tolerance time.Duration) *skewedWorker {
	t.Helper()
	now := func() time.Time { return time.Now().Add(skew) }
	check, err := clockcheck.New(clockcheck.Config{Now: now, Tolerance: tolerance})
	if err != nil {
		t.Fatal(err)
	}
	awsCfg := check.Attach(s.aws)
	ddb := dynamoClient(awsCfg, "", nil)
	a, err := app.New(app.Config{AWS: awsCfg, Names: s.names, DynamoDB: ddb})
	if err != nil {
		t.Fatal(err)
	}
	events, err := esdynamo.New(esdynamo.Config{Client: ddb, EventsTable: s.names.EventsTable, CommandsTable: s.names.CommandsTable, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	wc := workertest.Config(s.ep, s.logs)
	log := wc.Logger.With().Str("skew", skew.String()).Logger()
	wc.Logger = &log
	wc.Commands = handlers.CommandHandlerConfig{Events: events, Clock: now, ClockCheck: check, SnapshotPolicy: snapshots.EveryN(1000)}
	w, _ := workertest.StartApp(t, a, app.WorkerConfig{WorkerConfig: wc, NoProjector: true})
	return &skewedWorker{skew: skew, worker: w, clock: check}
}

// decided is how many commands the worker decided, whatever the outcome.
func (w *skewedWorker) decided() float64 {
	var n float64
	for _, outcome := range []string{"accepted", "rejected", "invalid", "duplicate"} {
		n += testutil.ToFloat64(w.worker.Metrics().Commands.WithLabelValues(outcome))
	}
	return n
}

// feedClient follows GET /v1/feed, parsing its server-sent events.
type feedClient struct {
	url string

	mu     sync.Mutex
	got    []eventstore.Record
	lastID string
}

// follow reads the feed from the last id received until ctx ends or stop says so.
func (c *feedClient) follow(ctx context.Context, stop func(n int) bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.lastID != "" {
		req.Header.Set("Last-Event-ID", c.lastID)
	}
	c.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %d", c.url, resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	var id, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			var rec eventstore.Record
			if err := json.Unmarshal([]byte(data), &rec); err != nil {
				return err
			}
			c.mu.Lock()
			c.got = append(c.got, rec)
			c.lastID = id
			n := len(c.got)
			c.mu.Unlock()
			data = ""
			if stop(n) {
				return nil
			}
		}
	}
}

func (c *feedClient) received() []eventstore.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]eventstore.Record(nil), c.got...)
}

// TestFeed_GivenThreeWorkersWithSkewedClocks_WhenTheyAppendWhileAReaderFollowsAndIsKilledMidStream_ThenEveryCommittedEventArrivesOnceEachStreamInOrder
// runs three workers with clocks 0.5 s slow, 0.5 s fast (within the tolerance of 1 s) and
// 5 s fast (beyond it) on one installation. 120 lock and release commands on 12 locks go
// to them while a client follows GET /v1/feed; the client is killed after a third of the
// events and reconnects with its Last-Event-ID.
func TestFeed_GivenThreeWorkersWithSkewedClocks_WhenTheyAppendWhileAReaderFollowsAndIsKilledMidStream_ThenEveryCommittedEventArrivesOnceEachStreamInOrder(t *testing.T) {
	t.Parallel()
	s := newStack(t, "feed", stackConfig{})
	const tolerance = time.Second
	workers := []*skewedWorker{
		s.startSkewedWorker(t, -500*time.Millisecond, tolerance),
		s.startSkewedWorker(t, 500*time.Millisecond, tolerance),
		s.startSkewedWorker(t, 5*time.Second, tolerance),
	}
	reader, err := feed.New(feed.Config{Events: s.events}) // windows for a tolerance of 1 s
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(httpapi.New(httpapi.Config{Reads: s.queries, Events: s.events, Feed: httpapi.FeedConfig{Reader: reader}}))
	t.Cleanup(api.Close)

	// The reader follows from the start; it is killed after 40 events.
	client := &feedClient{url: api.URL + "/v1/feed?kinds=lock"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	firstDone := make(chan error, 1)
	go func() { firstDone <- client.follow(ctx, func(n int) bool { return n >= 40 }) }()

	const streams, perStream = 12, 10
	var envs []string
	for i := range streams {
		envs = append(envs, fmt.Sprintf("feed-%02d", i))
	}
	err = forEach(streams, envs, func(env string) error {
		for i := range perStream {
			var cmd domain.Command = domain.Lock{Env: env, User: "alice"}
			if i%2 == 1 {
				cmd = domain.Release{Env: env, User: "alice"}
			}
			o, err := s.client.Submit(ctx, cmd)
			if err != nil {
				return fmt.Errorf("%s command %d: %w", env, i, err)
			}
			if o.Status != eventstore.OutcomeAccepted {
				return fmt.Errorf("%s command %d: %+v", env, i, o)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-firstDone:
		if err != nil {
			t.Fatalf("the first reader: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the first reader did not get 40 events within 60s of the last commit (%d)", len(client.received()))
	}
	t.Logf("the reader was killed after %d events; resuming from %s", len(client.received()), client.lastID)

	// Every committed event, from the store.
	var committed []eventstore.Record
	for _, env := range envs {
		recs, err := s.events.Load(context.Background(), domain.LockStreamID(env), 1)
		if err != nil {
			t.Fatal(err)
		}
		committed = append(committed, recs...)
	}
	resumed := make(chan error, 1)
	go func() { resumed <- client.follow(ctx, func(n int) bool { return n >= len(committed) }) }()
	select {
	case err := <-resumed:
		if err != nil {
			t.Fatalf("the resumed reader: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the resumed reader got %d of %d events within 60s", len(client.received()), len(committed))
	}
	// Anything more than the committed events would arrive within the feed's windows.
	time.Sleep(reader.Config().Settle + reader.Config().Reorder + time.Second)

	got := client.received()
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, r := range got {
		if seen[r.Key] {
			t.Errorf("%s@%d arrived twice", r.Stream, r.Version)
		}
		seen[r.Key] = true
		if r.Version != last[r.Stream]+1 {
			t.Errorf("%s@%d arrived after version %d", r.Stream, r.Version, last[r.Stream])
		}
		last[r.Stream] = r.Version
	}
	for _, r := range committed {
		if !seen[r.Key] {
			t.Errorf("%s@%d (key %s) was committed but never arrived", r.Stream, r.Version, r.Key)
		}
	}
	if len(got) != len(committed) {
		t.Errorf("%d events arrived, %d were committed", len(got), len(committed))
	}
	inversions := 0
	for _, env := range envs {
		recs, _ := s.events.Load(context.Background(), domain.LockStreamID(env), 1)
		for i := 1; i < len(recs); i++ {
			if recs[i].Key < recs[i-1].Key {
				inversions++
			}
		}
	}
	for _, w := range workers {
		t.Logf("worker %+v: decided %v, refused %d", w.skew, w.decided(), w.clock.Refusals())
	}
	t.Logf("%d events in %d streams, %d of them keyed before the version before them", len(committed), streams, inversions)
	if fast := workers[2]; fast.decided() != 0 || fast.clock.Refusals() == 0 {
		t.Errorf("the worker 5 s fast decided %v commands and refused %d: want none decided, some refused", fast.decided(), fast.clock.Refusals())
	}
}
