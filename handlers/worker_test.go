package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/awstest"
	"buildledger/internal/logbuf"
	"buildledger/internal/workertest"
	"buildledger/snapshots"
)

// stack is one test's own tables, queues and topic on the local emulators, built by the
// composition root that production uses.
type stack struct {
	app    *app.App
	sqs    *sqs.Client
	names  handlers.Names
	ep     handlers.Endpoints
	events *esdynamo.Store
	logs   *logbuf.Buffer
}

func newStack(t *testing.T, what string) *stack {
	t.Helper()
	ctx := context.Background()
	names, err := handlers.NewNames(awstest.Prefix(t, what))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Config{AWS: awstest.Config(t), Names: names, DynamoDB: awstest.DynamoDB(t), SQS: awstest.SQS(t), SNS: awstest.SNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{app: a, sqs: a.SQS, names: names, events: a.Events, logs: &logbuf.Buffer{}}
	if s.ep, _, err = a.ProvisionMessaging(ctx, handlers.MessagingConfig{VisibilityTimeoutSeconds: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateTables(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker logs:\n%s", s.logs.String())
		}
	})
	return s
}

// startWorker runs a worker, its configuration changed by opts, until the returned stop
// is called (or the test ends).
func (s *stack) startWorker(t *testing.T, applier handlers.EventApplier, opts ...func(*handlers.WorkerConfig)) (*handlers.Worker, func()) {
	t.Helper()
	cfg := workertest.Config(s.ep, s.logs)
	cfg.Commands = handlers.CommandHandlerConfig{SnapshotPolicy: snapshots.EveryN(25)}
	cfg.Applier = applier
	cfg.VisibilityTimeout = 3 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	return workertest.StartApp(t, s.app, app.WorkerConfig{WorkerConfig: cfg})
}

// send puts a raw command message on the commands queue.
func (s *stack) send(t *testing.T, group, dedup string, body []byte) string {
	t.Helper()
	return workertest.Send(t, s.sqs, s.ep.CommandsQueueURL, group, dedup, body)
}

type rawMessage struct{ group, dedup, body string }

// sendBatch sends messages ten at a time.
func (s *stack) sendBatch(t *testing.T, msgs []rawMessage) {
	t.Helper()
	for start := 0; start < len(msgs); start += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i, m := range msgs[start:min(start+10, len(msgs))] {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{
				Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(m.body),
				MessageGroupId: aws.String(m.group), MessageDeduplicationId: aws.String(m.dedup),
			})
		}
		out, err := s.sqs.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.ep.CommandsQueueURL), Entries: entries})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("batch send failed: %+v", out.Failed)
		}
	}
}

func (s *stack) outcome(t *testing.T, id string) eventstore.Outcome {
	t.Helper()
	o, err := s.events.Outcome(context.Background(), id)
	if err != nil {
		t.Fatalf("outcome of %s: %v", id, err)
	}
	return o
}

func (s *stack) load(t *testing.T, stream string) []eventstore.Record {
	t.Helper()
	recs, err := s.events.Load(context.Background(), stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// recordingApplier is a read side that remembers every record it was given.
type recordingApplier struct {
	mu   sync.Mutex
	seen map[string]map[int64]int // stream → version → deliveries
}

func newRecordingApplier() *recordingApplier {
	return &recordingApplier{seen: map[string]map[int64]int{}}
}

func (a *recordingApplier) Apply(_ context.Context, r eventstore.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen[r.Stream] == nil {
		a.seen[r.Stream] = map[int64]int{}
	}
	a.seen[r.Stream][r.Version]++
	return nil
}

// deliveries returns how often stream@version was applied.
func (a *recordingApplier) deliveries(stream string, version int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[stream][version]
}

// distinct returns how many different events were applied.
func (a *recordingApplier) distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, versions := range a.seen {
		n += len(versions)
	}
	return n
}

func (a *recordingApplier) versions(stream string) []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.seen[stream]))
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWorker_GivenSameCommandSentFiveTimesAndAfterRestart_ThenOneSetOfEventsAndApplied(t *testing.T) {
	t.Parallel()
	s := newStack(t, "worker-idem")
	applier := newRecordingApplier()
	w1, stop1 := s.startWorker(t, applier)

	body := message(t, "deploy-1", domain.Lock{Env: "prod", User: "alice", Meta: "release 7"})
	for i := range 5 {
		s.send(t, "lock:prod", fmt.Sprintf("dedup-%d", i), body)
	}
	// Every delivery publishes the command's one event: the first as new, the others again.
	waitFor(t, 30*time.Second, "5 deliveries of lock:prod@1", func() bool { return applier.deliveries("lock:prod", 1) >= 5 })
	stop1()
	// At least 4: a delivery whose ack was lost comes back as one more duplicate.
	if got := testutil.ToFloat64(w1.Metrics().Duplicates); got < 4 {
		t.Errorf("first worker counted %v duplicates, want 4", got)
	}

	_, _ = s.startWorker(t, applier)
	s.send(t, "lock:prod", "dedup-after-restart", body)
	waitFor(t, 30*time.Second, "the 6th delivery after the restart", func() bool { return applier.deliveries("lock:prod", 1) >= 6 })

	recs := s.load(t, "lock:prod")
	if len(recs) != 1 || recs[0].Type != "Locked" || recs[0].CommandID != "deploy-1" {
		t.Fatalf("stream holds %+v, want the one Locked event of deploy-1", recs)
	}
	if o := s.outcome(t, "deploy-1"); o.Status != eventstore.OutcomeAccepted || o.Version != 1 {
		t.Errorf("outcome = %+v, want accepted at version 1", o)
	}
	if v := applier.versions("lock:prod"); !slices.Equal(v, []int64{1}) {
		t.Errorf("applier saw versions %v, want [1]", v)
	}
}

func TestWorker_Given200CommandsRacingOnOneStreamAcrossThreeWorkers_ThenContiguousVersionsAndRightState(t *testing.T) {
	t.Parallel()
	s := newStack(t, "worker-race")
	applier := newRecordingApplier()
	var workers []*handlers.Worker
	for range 3 {
		w, _ := s.startWorker(t, applier)
		workers = append(workers, w)
	}

	const n = 200
	const stream = "repo:race/one"
	msgs := make([]rawMessage, n)
	for i := range msgs {
		id := fmt.Sprintf("build-%03d", i)
		// A group per message, not per stream: the commands really race for the stream.
		msgs[i] = rawMessage{group: "g-" + id, dedup: id, body: string(message(t, id,
			domain.CreateBuild{User: "race", Repo: "one", Tag: id, Browsers: []string{"chrome", "firefox"}}))}
	}
	s.sendBatch(t, msgs)

	waitFor(t, 60*time.Second, "200 events on the stream", func() bool {
		v, err := s.events.Version(context.Background(), stream)
		return err == nil && v >= n
	})
	recs := s.load(t, stream)
	if len(recs) != n {
		t.Fatalf("stream holds %d events, want %d", len(recs), n)
	}
	tags := map[string]bool{}
	events := make([]domain.Event, n)
	for i, r := range recs {
		if r.Version != int64(i+1) {
			t.Fatalf("position %d holds version %d: versions are not contiguous", i, r.Version)
		}
		e, err := domain.DecodeEvent(r.Type, r.Body)
		if err != nil {
			t.Fatal(err)
		}
		events[i] = e
		tags[e.(domain.BuildCreated).Tag] = true
	}
	if len(tags) != n {
		t.Errorf("%d distinct builds, want %d: a command took effect twice or not at all", len(tags), n)
	}
	agg, err := domain.Rehydrate(stream, events)
	if err != nil {
		t.Fatal(err)
	}
	repo := agg.(*domain.Repo)
	if repo.NextBuildID() != n+1 || len(repo.UnfinishedBuilds()) != n {
		t.Errorf("repo: next build %d, %d unfinished; want %d and %d", repo.NextBuildID(), len(repo.UnfinishedBuilds()), n+1, n)
	}
	for i := range n {
		id := fmt.Sprintf("build-%03d", i)
		if o := s.outcome(t, id); o.Status != eventstore.OutcomeAccepted || o.LastVersion < 1 {
			t.Fatalf("outcome of %s = %+v, want accepted", id, o)
		}
	}
	waitFor(t, 30*time.Second, "the applier to see all 200 events", func() bool { return len(applier.versions(stream)) == n })
	var conflicts, taken float64
	for _, w := range workers {
		conflicts += testutil.ToFloat64(w.Metrics().Conflicts)
		taken += testutil.ToFloat64(w.Metrics().SnapshotsTaken)
	}
	t.Logf("version conflicts retried: %v, snapshots taken: %v", conflicts, taken)
	if taken == 0 {
		t.Error("no snapshot was taken on a 200-event stream with EveryN(25)")
	}
}

func TestWorker_GivenPoisonMessagesBetweenGoodOnes_ThenPoisonDeadLetteredAndEveryGoodOneApplied(t *testing.T) {
	t.Parallel()
	s := newStack(t, "worker-poison")
	applier := newRecordingApplier()
	s.startWorker(t, applier)

	good := func(i int) string {
		return string(message(t, fmt.Sprintf("good-%d", i), domain.Lock{Env: fmt.Sprintf("env%d", i), User: "alice"}))
	}
	poison := []string{
		`{"type":"Lock","id":"bad-json",`,
		`{"type":"Unlock","id":"bad-type","env":"prod","user":"alice"}`,
		`{"type":"Lock","id":"bad-missing","env":"prod"}`,
	}
	// One message group: the poison sits in line between the good commands.
	var jsonMessageID string
	for i := range 4 {
		s.send(t, "mixed", fmt.Sprintf("good-%d", i), []byte(good(i)))
		if i < len(poison) {
			id := s.send(t, "mixed", fmt.Sprintf("poison-%d", i), []byte(poison[i]))
			if i == 0 {
				jsonMessageID = id
			}
		}
	}

	waitFor(t, 30*time.Second, "the 4 good commands applied", func() bool { return applier.distinct() == 4 })
	for i := range 4 {
		if v := applier.versions(fmt.Sprintf("lock:env%d", i)); !slices.Equal(v, []int64{1}) {
			t.Errorf("env%d: applier saw %v, want [1]", i, v)
		}
	}
	for id, want := range map[string]string{jsonMessageID: "not valid JSON", "bad-type": `unknown command type "Unlock"`, "bad-missing": "user"} {
		o := s.outcome(t, id)
		if o.Status != eventstore.OutcomeInvalid || !bytes.Contains([]byte(o.Reason), []byte(want)) {
			t.Errorf("outcome of %s = %+v, want invalid mentioning %q", id, o, want)
		}
	}

	var dead []sqstypes.Message
	waitFor(t, 20*time.Second, "3 messages in the commands dead-letter queue", func() bool {
		out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.ep.CommandsDLQURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		dead = append(dead, out.Messages...)
		// Deleting frees the FIFO group for the next dead letter.
		for _, m := range out.Messages {
			if _, err := s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(s.ep.CommandsDLQURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
		return len(dead) >= 3
	})
	var bodies []string
	for _, m := range dead {
		bodies = append(bodies, aws.ToString(m.Body))
		if r := m.MessageAttributes["reason_poisoned"]; r.StringValue == nil || *r.StringValue == "" {
			t.Errorf("dead letter %q has no reason attribute: %v", aws.ToString(m.Body), m.MessageAttributes)
		}
	}
	slices.Sort(bodies)
	want := slices.Clone(poison)
	slices.Sort(want)
	if !slices.Equal(bodies, want) {
		t.Errorf("dead-letter queue holds %q, want the poison messages %q", bodies, want)
	}
}

func TestWorker_GivenStoppedDuringBurstOf100_WhenNewWorkerStarts_ThenEveryCommandAppliedExactlyOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, "worker-restart")
	applier := newRecordingApplier()

	const repos, perRepo = 20, 5
	var msgs []rawMessage
	var ids []string
	for i := range perRepo {
		for r := range repos {
			id := fmt.Sprintf("r%02d-b%d", r, i)
			ids = append(ids, id)
			cmd := domain.CreateBuild{User: "burst", Repo: fmt.Sprintf("r%02d", r), Tag: id, Browsers: []string{"chrome"}}
			msgs = append(msgs, rawMessage{group: cmd.StreamID(), dedup: id, body: string(message(t, id, cmd))})
		}
	}
	s.sendBatch(t, msgs)

	_, stop1 := s.startWorker(t, applier)
	waitFor(t, 30*time.Second, "the first worker to apply some commands", func() bool { return applier.distinct() >= 15 })
	stop1()
	stoppedAt := applier.distinct()
	if stoppedAt >= repos*perRepo {
		t.Logf("the first worker finished the burst before it was stopped (%d)", stoppedAt)
	}

	s.startWorker(t, applier)
	waitFor(t, 60*time.Second, "all 100 commands applied", func() bool { return applier.distinct() == repos*perRepo })

	total := 0
	for r := range repos {
		stream := fmt.Sprintf("repo:burst/r%02d", r)
		recs := s.load(t, stream)
		total += len(recs)
		for i, rec := range recs {
			if rec.Version != int64(i+1) {
				t.Fatalf("%s: position %d holds version %d", stream, i, rec.Version)
			}
		}
	}
	if total != repos*perRepo {
		t.Errorf("%d events stored, want %d: one per command", total, repos*perRepo)
	}
	for _, id := range ids {
		if o := s.outcome(t, id); o.Status != eventstore.OutcomeAccepted {
			t.Errorf("outcome of %s = %+v, want accepted", id, o)
		}
	}
	t.Logf("stopped after %d of %d commands were applied", stoppedAt, repos*perRepo)
}

func TestRecordMarshaling_GivenPublishedRecord_ThenProjectorDecodesItAndAppliesWithLag(t *testing.T) {
	rec := eventstore.Record{Stream: "lock:prod", Version: 3, Key: "k", Type: "Locked", Body: json.RawMessage(`{"env":"prod"}`), RecordedAt: testNow}
	body, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := handlers.NewMetrics(nil)
	applier := newRecordingApplier()
	p, err := handlers.NewProjectorHandler(handlers.ProjectorHandlerConfig{Applier: applier, Metrics: m, Clock: func() time.Time { return testNow.Add(2 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Handle(context.Background(), body); err != nil {
		t.Fatal(err)
	}
	if applier.deliveries("lock:prod", 3) != 1 || testutil.ToFloat64(m.EventsApplied) != 1 {
		t.Error("record not applied once")
	}
	for _, bad := range []string{`nope`, `{"stream":"lock:prod","version":0,"type":"Locked","body":{}}`, `{"version":1,"type":"Locked","body":{}}`} {
		if err := p.Handle(context.Background(), []byte(bad)); !handlers.IsDeadLetter(err) {
			t.Errorf("Handle(%s) = %v, want a dead letter", bad, err)
		}
	}
	if a, b := handlers.RecordMessageID(rec), handlers.RecordMessageID(rec); a != b {
		t.Error("record message ids differ between publications")
	}
}
