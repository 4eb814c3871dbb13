package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/client"
	"buildledger/eventstore"
	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/projections"
)

// e2eGoal is the least share of the raw baseline's command rate the whole path should reach.
const e2eGoal = 0.7

// visibleTimeout bounds the wait for one command to show in the read model.
const visibleTimeout = 2 * time.Minute

// measureEndToEnd sends commands to the commands queue and times each until the read model
// shows the version it produced, with a worker (commands and projector) running in this
// process against the emulators. Each stream has one client that sends its next command
// once the previous one is visible, as the CLI does when it waits to read its own writes.
//
// The raw baseline does the fewest calls the same commands need: the same clients send the
// same bodies to a FIFO queue, consumers receive them (up to 10 per call), write each
// command's events, decided ahead, and its outcome in one TransactWriteItems, then delete
// the message; the command is done when its transaction is. The two run in alternating
// rounds on separate queues and tables.
func measureEndToEnd(ctx context.Context, e *environment) ([]Figure, error) {
	cfg := e.cfg
	perStream := cfg.E2ECommands / cfg.E2EStreams
	a, ep, err := provisionEndToEnd(ctx, e)
	if err != nil {
		return nil, err
	}
	rawEvents, rawCommands, err := e.eventTables(ctx, "e2e-raw")
	if err != nil {
		return nil, err
	}
	rawQueueURL, err := createRawQueue(ctx, e)
	if err != nil {
		return nil, err
	}
	oursVis, rawVis := newVisibility(), newVisibility()
	stopWorker, err := startWorker(ctx, a, ep, cfg.E2EParallelism, oursVis)
	if err != nil {
		return nil, err
	}
	defer stopWorker()

	// Both sides run the same workload, on separate streams and ids.
	oursPlan, err := planCommands(e.runID()+"-o", cfg.E2EStreams, perStream)
	if err != nil {
		return nil, err
	}
	rawPlan, err := planCommands(e.runID()+"-r", cfg.E2EStreams, perStream)
	if err != nil {
		return nil, err
	}
	oursSend, err := workerSender(a, ep)
	if err != nil {
		return nil, err
	}
	consumers := &rawConsumers{e: e, queueURL: rawQueueURL, events: rawEvents, commands: rawCommands, plan: commandsByID(rawPlan), vis: rawVis}
	consumersCtx, stopConsumers := context.WithCancel(ctx)
	consumersDone := consumers.start(consumersCtx, cfg.E2EParallelism)
	defer func() {
		stopConsumers()
		<-consumersDone
	}()

	ours := &e2eSide{name: "ours", plan: oursPlan, send: oursSend, vis: oursVis}
	raw := &e2eSide{name: "raw", plan: rawPlan, send: rawSender(e, rawQueueURL), vis: rawVis}
	if err := runEndToEndRounds(ctx, e, ours, raw, consumers, perStream); err != nil {
		return nil, err
	}
	return endToEndFigures(cfg, perStream*cfg.E2EStreams, ours, raw), nil
}

// provisionEndToEnd builds the installation the worker runs in, through the composition root
// production uses, and creates its tables, queues and topic; everything it creates is
// tracked for cleanup, even when creating the rest fails.
func provisionEndToEnd(ctx context.Context, e *environment) (*app.App, handlers.Endpoints, error) {
	names, err := handlers.NewNames(e.name("e2e-"))
	if err != nil {
		return nil, handlers.Endpoints{}, err
	}
	a, err := app.New(app.Config{AWS: e.aws, Names: names, ReadPrefix: e.name("e2e-rm-"), DynamoDB: e.db, SQS: e.sqs, SNS: e.sns})
	if err != nil {
		return nil, handlers.Endpoints{}, err
	}
	e.track(names.EventsTable, names.CommandsTable, names.SnapshotsTable)
	created, err := a.CreateTables(ctx)
	e.track(created...)
	if err != nil {
		return nil, handlers.Endpoints{}, err
	}
	ep, _, err := a.ProvisionMessaging(ctx, handlers.MessagingConfig{})
	e.trackMessaging([]string{ep.CommandsQueueURL, ep.CommandsDLQURL, ep.ProjectorQueueURL, ep.ProjectorDLQURL}, []string{ep.EventsTopicARN})
	if err != nil {
		return nil, handlers.Endpoints{}, err
	}
	return a, ep, nil
}

// createRawQueue creates the raw baseline's FIFO queue, which orders each stream's commands
// as the commands queue does, and returns its URL.
func createRawQueue(ctx context.Context, e *environment) (string, error) {
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName:  aws.String(e.name("e2e-raw.fifo")),
		Attributes: map[string]string{"FifoQueue": "true", "VisibilityTimeout": "30"},
	})
	if err != nil {
		return "", fmt.Errorf("create raw queue: %w", err)
	}
	url := aws.ToString(out.QueueUrl)
	e.trackMessaging([]string{url}, nil)
	return url, nil
}

// startWorker runs the worker in the background, its projector reporting what it makes
// visible to vis, and returns once the worker receives. stop ends the worker and waits for
// it to return.
func startWorker(ctx context.Context, a *app.App, ep handlers.Endpoints, parallelism int, vis *visibility) (stop func(), err error) {
	worker, err := a.Worker(app.WorkerConfig{
		WorkerConfig: handlers.WorkerConfig{
			Endpoints:       ep,
			Parallelism:     parallelism,
			ReceiveWaitTime: time.Second,
		},
		WrapApplier: func(p *projections.Projector) handlers.EventApplier { return watchedApplier{next: p, vis: vis} },
	})
	if err != nil {
		return nil, err
	}
	runCtx, stopRunning := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() { workerDone <- worker.Run(runCtx) }()
	select {
	case <-worker.Running():
	case err := <-workerDone:
		stopRunning()
		return nil, fmt.Errorf("worker: %w", err)
	case <-ctx.Done():
		stopRunning()
		return nil, ctx.Err()
	}
	return func() {
		stopRunning()
		<-workerDone
	}, nil
}

// commandSender sends one planned command on one side of the end-to-end figure.
type commandSender func(context.Context, plannedCommand) error

// workerSender sends commands to the worker's queue with the client the CLI uses.
func workerSender(a *app.App, ep handlers.Endpoints) (commandSender, error) {
	cl, err := a.Client(ep.CommandsQueueURL)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, pc plannedCommand) error {
		_, err := cl.SendRaw(ctx, pc.stream, pc.id, pc.body)
		return err
	}, nil
}

// rawSender sends the same bodies to the raw queue in one plain SendMessage each, grouped
// and deduplicated as the client groups and deduplicates them.
func rawSender(e *environment, queueURL string) commandSender {
	return func(ctx context.Context, pc plannedCommand) error {
		_, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:               aws.String(queueURL),
			MessageBody:            aws.String(string(pc.body)),
			MessageGroupId:         aws.String(client.GroupID(pc.stream)),
			MessageDeduplicationId: aws.String(pc.id),
		})
		return err
	}
}

// commandsByID indexes a plan by command id, for the raw consumers to find what a message
// decides.
func commandsByID(plan [][]plannedCommand) map[string]plannedCommand {
	byID := map[string]plannedCommand{}
	for _, cmds := range plan {
		for _, pc := range cmds {
			byID[pc.id] = pc
		}
	}
	return byID
}

// e2eSide is one side of the end-to-end figure and what its rounds measured.
type e2eSide struct {
	name    string
	plan    [][]plannedCommand
	send    commandSender
	vis     *visibility
	took    time.Duration
	done    int
	latency []float64
	mem     memPeak
}

// runEndToEndRounds runs both sides in alternating rounds, each round a slice of every
// stream's commands, so that drift of a noisy machine hits both alike.
func runEndToEndRounds(ctx context.Context, e *environment, ours, raw *e2eSide, consumers *rawConsumers, perStream int) error {
	rounds := min(e.cfg.Rounds, perStream)
	for r := range rounds {
		from, to := r*perStream/rounds, (r+1)*perStream/rounds
		order := []*e2eSide{ours, raw}
		if r%2 == 1 {
			order = []*e2eSide{raw, ours}
		}
		for _, sd := range order {
			if err := sd.runRound(ctx, e, consumers, r, from, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// runRound sends commands from..to-1 of every stream of sd's plan and adds their time,
// latencies and memory peak to sd. A failed raw consumer fails the round: the raw side's
// commands would otherwise only time out.
func (sd *e2eSide) runRound(ctx context.Context, e *environment, consumers *rawConsumers, r, from, to int) error {
	if err := consumers.failed(); err != nil {
		return fmt.Errorf("raw consumer: %w", err)
	}
	probe := startMemProbe()
	start := time.Now()
	lat, err := runClosedLoop(ctx, sd.plan, from, to, sd.send, sd.vis)
	took := time.Since(start)
	sd.mem = sd.mem.merge(probe.stopProbe())
	if err != nil {
		if cerr := consumers.failed(); cerr != nil && sd.name == "raw" {
			err = errors.Join(err, cerr)
		}
		return fmt.Errorf("%s, round %d: %w", sd.name, r+1, err)
	}
	n := (to - from) * len(sd.plan)
	sd.took += took
	sd.done += n
	sd.latency = append(sd.latency, lat...)
	e.logf("e2e round %d, %s: %d commands in %s (%.0f/s)", r+1, sd.name, n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return nil
}

// endToEndFigures reports the command rates of both sides, with their latency percentiles,
// and the process's memory peak while each ran.
func endToEndFigures(cfg Config, total int, ours, raw *e2eSide) []Figure {
	oursRate, rawRate := float64(ours.done)/ours.took.Seconds(), float64(raw.done)/raw.took.Seconds()
	o50, o95, o99 := percentile(ours.latency, 50), percentile(ours.latency, 95), percentile(ours.latency, 99)
	r50, r95, r99 := percentile(raw.latency, 50), percentile(raw.latency, 95), percentile(raw.latency, 99)
	f := newFigure(fmt.Sprintf("End to end, %s commands on %d streams", thousands(int64(total)), cfg.E2EStreams), "commands/s", oursRate, rawRate, e2eGoal, false)
	f.Notes = fmt.Sprintf("SQS send → worker decides → events → SNS → projector → read model; one client per stream waits for each command to show; latency p50/p95/p99 %s/%s/%s ms (raw %s/%s/%s ms); raw: SQS send + receive + delete + one TransactWriteItems per command; worker parallelism %d",
		formatValue(o50, ""), formatValue(o95, ""), formatValue(o99, ""),
		formatValue(r50, ""), formatValue(r95, ""), formatValue(r99, ""),
		cfg.E2EParallelism)
	if total < 5000 {
		f.Notes += fmt.Sprintf("; smaller than the 5,000 commands of the issue (--e2e-commands %d)", cfg.E2ECommands)
	}
	f.Extra = map[string]float64{
		"commands":       float64(total),
		"streams":        float64(cfg.E2EStreams),
		"ours_p50_ms":    o50,
		"ours_p95_ms":    o95,
		"ours_p99_ms":    o99,
		"raw_p50_ms":     r50,
		"raw_p95_ms":     r95,
		"raw_p99_ms":     r99,
		"ours_seconds":   ours.took.Seconds(),
		"raw_seconds":    raw.took.Seconds(),
		"worker_threads": float64(cfg.E2EParallelism),
	}
	return []Figure{f, memoryFigure("Memory, worker during end to end", ours.mem, raw.mem, 0,
		"peak RSS of this process (worker, projector and clients in-process) while ours ran vs while raw ran; the idle worker stays resident during raw rounds")}
}

// memoryFigure reports two memory peaks as a figure in MiB of peak RSS, with the Go heap
// peaks in Extra; without a per-phase RSS (the kernel refused the reset), it reports heap.
func memoryFigure(name string, ours, raw memPeak, goal float64, notes string) Figure {
	unit, o, r := "MiB RSS", mib(ours.rss), mib(raw.rss)
	if !ours.rssOfPhase || !raw.rssOfPhase || ours.rss == 0 || raw.rss == 0 {
		unit, o, r = "MiB heap", mib(ours.heap), mib(raw.heap)
		notes += "; Go heap peak (the process's peak RSS could not be reset per phase)"
	} else {
		notes += fmt.Sprintf("; Go heap peak %s vs %s MiB", formatValue(mib(ours.heap), ""), formatValue(mib(raw.heap), ""))
	}
	f := newFigure(name, unit, o, r, goal, true)
	f.Notes = notes
	f.Extra = map[string]float64{
		"ours_rss_mib":  mib(ours.rss),
		"raw_rss_mib":   mib(raw.rss),
		"ours_heap_mib": mib(ours.heap),
		"raw_heap_mib":  mib(raw.heap),
	}
	return f
}

// planCommands decides perStream commands on each of streams workload streams.
func planCommands(run string, streams, perStream int) ([][]plannedCommand, error) {
	plan := make([][]plannedCommand, streams)
	start := time.Now()
	for k := range streams {
		p, err := newPlanner(newWorkloadStream(run, k), start)
		if err != nil {
			return nil, err
		}
		for range perStream {
			pc, err := p.next()
			if err != nil {
				return nil, err
			}
			if pc.body, err = client.Marshal(pc.cmd, pc.id); err != nil {
				return nil, err
			}
			plan[k] = append(plan[k], pc)
		}
	}
	return plan, nil
}

// runClosedLoop runs one client per stream: each sends its commands from..to-1 one at a
// time, waiting for each to be visible. It returns every command's latency in ms.
func runClosedLoop(ctx context.Context, plan [][]plannedCommand, from, to int, send commandSender, vis *visibility) ([]float64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	var latency []float64
	var wg sync.WaitGroup
	for _, cmds := range plan {
		wg.Go(func() {
			mine := make([]float64, 0, to-from)
			for _, pc := range cmds[from:to] {
				start := time.Now()
				if err := send(ctx, pc); err != nil {
					cancel(fmt.Errorf("send %s to %s: %w", pc.cmd.CommandType(), pc.stream, err))
					return
				}
				wctx, wcancel := context.WithTimeout(ctx, visibleTimeout)
				err := vis.wait(wctx, pc.stream, pc.last())
				wcancel()
				if err != nil {
					cancel(fmt.Errorf("%s on %s (command %s) did not become visible at version %d: %w", pc.cmd.CommandType(), pc.stream, pc.id, pc.last(), err))
					return
				}
				mine = append(mine, ms(time.Since(start)))
			}
			mu.Lock()
			latency = append(latency, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return latency, context.Cause(ctx)
}

// visibility tracks the highest version of each stream that is visible, and wakes those
// waiting for one.
type visibility struct {
	mu      sync.Mutex
	seen    map[string]int64
	waiters map[string][]visibilityWaiter
}

type visibilityWaiter struct {
	version int64
	ready   chan struct{}
}

func newVisibility() *visibility {
	return &visibility{seen: map[string]int64{}, waiters: map[string][]visibilityWaiter{}}
}

// reached records that stream is visible up to version.
func (v *visibility) reached(stream string, version int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if version <= v.seen[stream] {
		return
	}
	v.seen[stream] = version
	kept := v.waiters[stream][:0]
	for _, w := range v.waiters[stream] {
		if w.version <= version {
			close(w.ready)
		} else {
			kept = append(kept, w)
		}
	}
	v.waiters[stream] = kept
}

// wait returns once stream is visible up to version, or with ctx's error.
func (v *visibility) wait(ctx context.Context, stream string, version int64) error {
	v.mu.Lock()
	if v.seen[stream] >= version {
		v.mu.Unlock()
		return nil
	}
	w := visibilityWaiter{version: version, ready: make(chan struct{})}
	v.waiters[stream] = append(v.waiters[stream], w)
	v.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watchedApplier applies events with the projector and records what became visible: once
// Apply returns, the read model's position of the stream is at least the event's version.
type watchedApplier struct {
	next *projections.Projector
	vis  *visibility
}

func (a watchedApplier) Apply(ctx context.Context, rec eventstore.Record) error {
	if err := a.next.Apply(ctx, rec); err != nil {
		return err
	}
	a.vis.reached(rec.Stream, rec.Version)
	return nil
}

// rawConsumers are the raw baseline's consumers: receive, one transaction, delete.
type rawConsumers struct {
	e                *environment
	queueURL         string
	events, commands string
	plan             map[string]plannedCommand
	vis              *visibility

	mu  sync.Mutex
	err error
}

func (c *rawConsumers) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *rawConsumers) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// start runs n consumers until ctx ends; the channel closes when they have stopped.
func (c *rawConsumers) start(ctx context.Context, n int) <-chan struct{} {
	done := make(chan struct{})
	keys := eventstore.NewKeyGenerator(nil)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				out, err := c.e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
					QueueUrl:            aws.String(c.queueURL),
					MaxNumberOfMessages: 10,
					WaitTimeSeconds:     1,
				})
				if err != nil {
					if ctx.Err() == nil {
						c.fail(fmt.Errorf("receive: %w", err))
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				for _, msg := range out.Messages {
					if err := c.handle(ctx, keys, msg); err != nil && ctx.Err() == nil {
						c.fail(err)
					}
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return done
}

func (c *rawConsumers) handle(ctx context.Context, keys *eventstore.KeyGenerator, msg sqstypes.Message) error {
	var head struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &head); err != nil {
		return fmt.Errorf("decode raw message: %w", err)
	}
	pc, ok := c.plan[head.ID]
	if !ok {
		return fmt.Errorf("raw message of unknown command %s", head.ID)
	}
	specs := make([]rawEventSpec, len(pc.events))
	for i, ev := range pc.events {
		specs[i] = rawEventSpec{key: keys.Next(), typ: ev.Type, body: string(ev.Body)}
	}
	_, err := c.e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: rawAppendItems(c.events, c.commands, pc.stream, pc.expected, specs, pc.id, head.Type, "h", time.Now()),
	})
	if err != nil {
		return fmt.Errorf("raw transaction of %s: %w", pc.id, err)
	}
	if _, err := c.e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.queueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
		return fmt.Errorf("delete raw message: %w", err)
	}
	c.vis.reached(pc.stream, pc.last())
	return nil
}
