package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/client"
	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/costmeter"
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
//
// The time index figure follows, once the worker and the raw consumers have stopped: its
// round at one shard runs a worker of its own, which should not share the machine with
// them.
func measureEndToEnd(ctx context.Context, e *environment) ([]Figure, error) {
	figures, eventsTable, err := runEndToEnd(ctx, e)
	if err != nil {
		return nil, err
	}
	// The composition root leaves the event store's shard count at its default.
	index, err := timeIndexFigure(ctx, e, eventsTable, layout.DefaultTimeShards)
	if err != nil {
		// The end-to-end figures stand without it.
		e.logf("e2e: time index figure: %v", err)
		return figures, nil
	}
	return append(figures, index), nil
}

// runEndToEnd runs the end-to-end rounds of both sides and returns their figures and the
// name of the events table the worker wrote; the worker and the raw consumers have
// stopped when it returns.
func runEndToEnd(ctx context.Context, e *environment) (figures []Figure, eventsTable string, err error) {
	cfg := e.cfg
	perStream := cfg.E2ECommands / cfg.E2EStreams
	warmup := max(cfg.E2EWarmup, 0)
	// Each side's clients report to a meter of their own.
	oursMeter, rawMeter := costmeter.New(), costmeter.New()
	a, ep, err := provisionEndToEnd(ctx, e, "e2e-", 0, oursMeter)
	if err != nil {
		return nil, "", err
	}
	rawAWS := rawMeter.Attach(e.aws)
	rawDB, rawSQS := dynamodb.NewFromConfig(rawAWS), sqs.NewFromConfig(rawAWS)
	rawEvents, rawCommands, err := e.eventTables(ctx, "e2e-raw")
	if err != nil {
		return nil, "", err
	}
	rawQueueURL, err := createRawQueue(ctx, e)
	if err != nil {
		return nil, "", err
	}
	oursVis, rawVis := newVisibility(), newVisibility()
	stopWorker, err := startWorker(ctx, a, ep, cfg.E2EParallelism, oursVis)
	if err != nil {
		return nil, "", err
	}
	defer stopWorker()

	// Both sides run the same workload, on separate streams and ids.
	oursPlan, err := planCommands(e.runID()+"-o", cfg.E2EStreams, warmup+perStream)
	if err != nil {
		return nil, "", err
	}
	rawPlan, err := planCommands(e.runID()+"-r", cfg.E2EStreams, warmup+perStream)
	if err != nil {
		return nil, "", err
	}
	oursSend, err := workerSender(a, ep)
	if err != nil {
		return nil, "", err
	}
	consumers := &rawConsumers{db: rawDB, sqs: rawSQS, queueURL: rawQueueURL, events: rawEvents, commands: rawCommands, plan: commandsByID(rawPlan), vis: rawVis}
	consumersCtx, stopConsumers := context.WithCancel(ctx)
	consumersDone := consumers.start(consumersCtx, cfg.E2EParallelism)
	defer func() {
		stopConsumers()
		<-consumersDone
	}()

	ours := &e2eSide{name: "ours", plan: oursPlan, send: oursSend, vis: oursVis, meter: oursMeter}
	raw := &e2eSide{name: "raw", plan: rawPlan, send: rawSender(rawSQS, rawQueueURL), vis: rawVis, meter: rawMeter}
	if err := warmUp(ctx, e, warmup, ours, raw); err != nil {
		return nil, "", err
	}
	if err := runEndToEndRounds(ctx, e, ours, raw, consumers, warmup, perStream); err != nil {
		return nil, "", err
	}
	e.recordWork(Work{Figure: "end to end", Ours: newCommandWork(ours.work, ours.done), Raw: newCommandWork(raw.work, raw.done)})
	return endToEndFigures(cfg, perStream*cfg.E2EStreams, ours, raw), a.Names.EventsTable, nil
}

// provisionEndToEnd builds an installation named under prefix, through the composition
// root production uses, with timeShards time index shards (0: the default), and creates its
// tables, queues and topic; everything it creates is tracked for cleanup, even when creating
// the rest fails. Its clients, the worker's included, report to meter (nil: none).
func provisionEndToEnd(ctx context.Context, e *environment, prefix string, timeShards int, meter *costmeter.Meter) (*app.App, handlers.Endpoints, error) {
	names, err := handlers.NewNames(e.name(prefix))
	if err != nil {
		return nil, handlers.Endpoints{}, err
	}
	awsCfg := e.aws
	if meter != nil {
		awsCfg = meter.Attach(e.aws)
	}
	a, err := app.New(app.Config{AWS: awsCfg, Names: names, ReadPrefix: e.name(prefix + "rm-"), TimeShards: timeShards})
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
	e.trackMessaging([]string{ep.CommandsQueueURL, ep.CommandsDLQURL, ep.ProjectorQueueURL, ep.ProjectorDLQURL, ep.TimersQueueURL, ep.TimersDLQURL}, []string{ep.EventsTopicARN})
	if err != nil {
		return nil, handlers.Endpoints{}, err
	}
	return a, ep, nil
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
		// Rows committed with their events are visible at once.
		WatchInline: func(recs []eventstore.Record) {
			for _, r := range recs {
				vis.reached(r.Stream, r.Version)
			}
		},
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

type e2eSide struct {
	name    string
	plan    [][]plannedCommand
	send    commandSender
	vis     *visibility
	took    time.Duration
	done    int
	latency []float64
	mem     memPeak
	warmup  float64 // commands/s of the untimed warm-up
	meter   *costmeter.Meter
	work    costmeter.Counts
}

// warmUp sends the first n commands of every stream on each side, untimed and uncounted.
func warmUp(ctx context.Context, e *environment, n int, sides ...*e2eSide) error {
	if n == 0 {
		return nil
	}
	for _, sd := range sides {
		start := time.Now()
		if _, err := runClosedLoop(ctx, sd.plan, 0, n, sd.send, sd.vis); err != nil {
			return fmt.Errorf("%s, warm-up: %w", sd.name, err)
		}
		took := time.Since(start)
		sd.warmup = float64(n*len(sd.plan)) / took.Seconds()
		e.logf("e2e warm-up, %s: %d commands in %s (%.0f/s), not counted", sd.name, n*len(sd.plan), took.Round(time.Millisecond), sd.warmup)
	}
	return nil
}

// runEndToEndRounds runs both sides in alternating rounds, each round a slice of every
// stream's commands after the first skip, so that drift of a noisy machine hits both alike.
func runEndToEndRounds(ctx context.Context, e *environment, ours, raw *e2eSide, consumers *rawConsumers, skip, perStream int) error {
	rounds := min(e.cfg.Rounds, perStream)
	for r := range rounds {
		from, to := skip+r*perStream/rounds, skip+(r+1)*perStream/rounds
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
// latencies, memory peak and AWS work (once the round's work has settled) to sd. A failed
// raw consumer fails the round: the raw side's commands would otherwise only time out.
func (sd *e2eSide) runRound(ctx context.Context, e *environment, consumers *rawConsumers, r, from, to int) error {
	if err := consumers.failed(); err != nil {
		return fmt.Errorf("raw consumer: %w", err)
	}
	before := sd.meter.Snapshot()
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
	sd.work = sd.work.Add(settledCounts(ctx, sd.meter).Sub(before))
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
	if cfg.E2EWarmup > 0 {
		f.Notes += fmt.Sprintf("; after an untimed warm-up of %d commands per stream on each side (ours %.0f/s, raw %.0f/s)", cfg.E2EWarmup, ours.warmup, raw.warmup)
	}
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
