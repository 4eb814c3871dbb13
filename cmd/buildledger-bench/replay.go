package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/eventstore/dynamo"
	"buildledger/internal/costmeter"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
)

// replayFloorGoal is the least share a full replay should reach of the rate of the work it
// cannot avoid: the raw Scan plus the writes of the rows it ends with.
const replayFloorGoal = 0.7

// replayMemoryGoal bounds the peak memory of the large replay as a multiple of the small
// one's: ten times the events in flat memory, give or take.
const replayMemoryGoal = 1.5

// replayHistoryAge is how far back the replayed events are stamped.
const replayHistoryAge = 2 * time.Hour

// replayStreamLength is the average number of events per stream of the replayed workload.
const replayStreamLength = 50

// measureReplay fills an events table with ReplayEvents events of the workload, and another
// with ReplaySmallEvents, then rebuilds every read model from each with the projections'
// Replayer (parallel scan, as `buildledger replay` does) and compares:
//
//   - the large replay's rate with a raw parallel Scan of the same table (same segments, same
//     page size), taken before and after the replay;
//   - the large replay's rate with the floor of its work: the same Scan, then BatchWriteItem
//     of exactly the rows the replay left in its rebuilt tables, into fresh tables of the
//     same key schema;
//   - the peak memory of the large replay with the small one's.
//
// The cost meter counts, per replayed event, the requests and capacity units of the large
// replay and of the floor.
func measureReplay(ctx context.Context, e *environment) ([]Figure, error) {
	small := &replayDataset{what: "replay-small", events: e.cfg.ReplaySmallEvents}
	large := &replayDataset{what: "replay", events: e.cfg.ReplayEvents}
	for _, ds := range []*replayDataset{small, large} {
		events, commands, err := e.eventTables(ctx, ds.what)
		if err != nil {
			return nil, err
		}
		defer e.dropTables(context.WithoutCancel(ctx), events, commands)
		if err := ds.fill(ctx, e, events, commands); err != nil {
			return nil, err
		}
	}
	cl := newReplayClients(e)
	run, err := replayBeside(ctx, e, cl, small, large)
	if err != nil {
		return nil, err
	}
	// The rows are read before the floor's clock starts: the floor writes what it is given.
	rows, err := collectFinalRows(ctx, e.db, large.rmPrefix)
	if err != nil {
		return nil, err
	}
	if run.floors, run.again, err = replayAgainstFloor(ctx, e, cl, large, rows); err != nil {
		return nil, err
	}
	ours := run.large.work
	for _, r := range run.again {
		ours = ours.Add(r.work)
	}
	var raw costmeter.Counts
	for _, f := range run.floors {
		raw = raw.Add(f.work)
	}
	events := int(run.large.res.Events) * floorRounds
	e.recordWork(Work{Figure: "replay", Per: "replayed event", Ours: newCommandWork(ours, events), Raw: newCommandWork(raw, events)})
	return replayFigures(e.cfg, run), nil
}

// replayClients are the DynamoDB clients of the replay figure's two sides, each reporting
// to a meter of its own: ours (the replays) and raw (the Scans and the floor's writes).
type replayClients struct {
	ours, raw           *dynamodb.Client
	oursMeter, rawMeter *costmeter.Meter
}

func newReplayClients(e *environment) replayClients {
	oursMeter, rawMeter := costmeter.New(), costmeter.New()
	return replayClients{
		ours: dynamodb.NewFromConfig(oursMeter.Attach(e.aws)), raw: dynamodb.NewFromConfig(rawMeter.Attach(e.aws)),
		oursMeter: oursMeter, rawMeter: rawMeter,
	}
}

// replayDataset is one events table of the replay figure and the read models rebuilt from it.
type replayDataset struct {
	what     string
	events   int
	table    string
	commands string
	rmPrefix string
	written  int64
}

// storeOn returns the event store of ds's tables with db as its client. Its clock stands
// replayHistoryAge back, as in a store whose history is older than the replay's catch-up
// margin: otherwise the catch-up pass would apply every event written just before the
// replay a second time, through the live path.
func (ds *replayDataset) storeOn(db *dynamodb.Client) (*dynamo.Store, error) {
	past := func() time.Time { return time.Now().Add(-replayHistoryAge) }
	return dynamo.New(dynamo.Config{Client: db, EventsTable: ds.table, CommandsTable: ds.commands, Now: past})
}

// fill writes ds's events of the workload to the events table and creates the read-model
// tables the replay rebuilds.
func (ds *replayDataset) fill(ctx context.Context, e *environment, events, commands string) error {
	ds.table, ds.commands = events, commands
	store, err := ds.storeOn(e.db)
	if err != nil {
		return err
	}
	start := time.Now()
	if ds.written, err = fillEventStore(ctx, store, e.runID()+"-"+ds.what, ds.events, replayStreamLength, 8); err != nil {
		return fmt.Errorf("write %d events: %w", ds.events, err)
	}
	e.logf("replay: wrote %s events in %s", thousands(ds.written), time.Since(start).Round(time.Millisecond))
	ds.rmPrefix = e.name(ds.what + "-rm-")
	created, err := projdynamo.CreateTables(ctx, e.db, ds.rmPrefix)
	e.track(created...)
	return err
}

// replayResult is what one replay did and cost.
type replayResult struct {
	res     projections.ReplayResult
	scanned float64 // events/s while scanning, as the replay's progress reported it
	mem     memPeak
	work    costmeter.Counts
}

// replay rebuilds every read model from ds with the projections' Replayer, as `buildledger
// replay` does, through db, and measures the process's memory peak and the work meter
// counts meanwhile.
func (ds *replayDataset) replay(ctx context.Context, e *environment, db *dynamodb.Client, meter *costmeter.Meter) (replayResult, error) {
	rm, err := projdynamo.New(projdynamo.Config{Client: db, Prefix: ds.rmPrefix})
	if err != nil {
		return replayResult{}, err
	}
	store, err := ds.storeOn(db)
	if err != nil {
		return replayResult{}, err
	}
	var scanRate atomic.Value
	rp, err := projections.NewReplayer(projections.ReplayerConfig{
		Store:            rm,
		Events:           store,
		Scanner:          store,
		Segments:         e.cfg.ReplaySegments,
		ProgressInterval: -1,
		Progress:         func(_, _ int64, rate float64) { scanRate.Store(rate) },
	})
	if err != nil {
		return replayResult{}, err
	}
	before := meter.Snapshot()
	probe := startMemProbe()
	res, err := rp.Replay(ctx, projections.ReplayScope{})
	mem := probe.stopProbe()
	work := meter.Snapshot().Sub(before)
	if err != nil {
		return replayResult{}, fmt.Errorf("replay %s events: %w", thousands(ds.written), err)
	}
	if res.Events < ds.written {
		return replayResult{}, fmt.Errorf("replay read %d events, %d were written", res.Events, ds.written)
	}
	r := replayResult{res: res, mem: mem, work: work}
	if v, ok := scanRate.Load().(float64); ok {
		r.scanned = v
	}
	e.logf("replay: %s events in %s (%.0f/s; %.0f/s while scanning), peak RSS %.0f MiB, heap %.0f MiB",
		thousands(res.Events), res.Elapsed.Round(time.Millisecond), float64(res.Events)/res.Elapsed.Seconds(), r.scanned, mib(mem.rss), mib(mem.heap))
	return r, nil
}

// replayRun is the replay figure's measurements: both replays, the raw Scan rate of the
// large table before and after its replay, and the rounds of the floor of the large
// replay's work with the large replay's further rounds.
type replayRun struct {
	small, large          replayResult
	scanBefore, scanAfter float64
	floors                []floorResult
	again                 []replayResult
}

// replayBeside replays small, then large between two raw Scans of large's table, so that
// the raw rate is the mean of one taken on each side of the replay.
func replayBeside(ctx context.Context, e *environment, cl replayClients, small, large *replayDataset) (replayRun, error) {
	var run replayRun
	var err error
	if run.small, err = small.replay(ctx, e, cl.ours, cl.oursMeter); err != nil {
		return replayRun{}, err
	}
	if run.scanBefore, err = rawScan(ctx, cl.raw, large.table, e.cfg.ReplaySegments); err != nil {
		return replayRun{}, err
	}
	if run.large, err = large.replay(ctx, e, cl.ours, cl.oursMeter); err != nil {
		return replayRun{}, err
	}
	if run.scanAfter, err = rawScan(ctx, cl.raw, large.table, e.cfg.ReplaySegments); err != nil {
		return replayRun{}, err
	}
	e.logf("replay: raw scan %.0f/s before, %.0f/s after", run.scanBefore, run.scanAfter)
	return run, nil
}

// replayFigures reports the large replay's rate against the raw Scan's, and its memory peak
// against the small replay's.
func replayFigures(cfg Config, run replayRun) []Figure {
	large, small := run.large, run.small
	rawRate := (run.scanBefore + run.scanAfter) / 2
	oursRate := float64(large.res.Events) / large.res.Elapsed.Seconds()
	// No goal: a replay must write the rows it rebuilds, which a scan does not; the goal is
	// against the scan and those writes (the next row).
	f := newFigure(fmt.Sprintf("Replay, %s events", thousands(large.res.Events)), "events/s", oursRate, rawRate, 0, false)
	f.Notes = fmt.Sprintf("full rebuild of every read model into a new generation (create, scan and project, switch, catch-up, drop), %d scan segments, about %d events per stream of the four kinds; raw: parallel Scan of the events table only, same segments (the goal is against the scan and the writes, next row); while scanning %s events/s; catch-up applied %s events",
		cfg.ReplaySegments, replayStreamLength, formatValue(large.scanned, ""), thousands(large.res.CaughtUp))
	f.Extra = map[string]float64{
		"events":            float64(large.res.Events),
		"seconds":           large.res.Elapsed.Seconds(),
		"scan_phase_rate":   large.scanned,
		"raw_scan_before":   run.scanBefore,
		"raw_scan_after":    run.scanAfter,
		"small_events":      float64(small.res.Events),
		"small_rate":        float64(small.res.Events) / small.res.Elapsed.Seconds(),
		"caught_up_events":  float64(large.res.CaughtUp),
		"segments":          float64(cfg.ReplaySegments),
		"events_per_stream": replayStreamLength,
	}
	floor := replayFloorFigure(cfg, run)
	mem := memoryFigure(fmt.Sprintf("Memory, replay of %s vs %s events", thousands(large.res.Events), thousands(small.res.Events)),
		large.mem, small.mem, replayMemoryGoal, fmt.Sprintf("peak RSS of this process during each replay; goal: flat (at most %sx for 10x the events)", formatValue(replayMemoryGoal, "")))
	return []Figure{f, floor, mem}
}

// replayFloorFigure reports the large replay's rate over all its rounds against the
// floor's over all of its own.
func replayFloorFigure(cfg Config, run replayRun) Figure {
	events := run.large.res.Events
	ours := run.large.res.Elapsed
	for _, r := range run.again {
		ours += r.res.Elapsed
	}
	var scan, write time.Duration
	for _, fl := range run.floors {
		scan, write = scan+fl.scan, write+fl.write
	}
	oursRate := float64(events*int64(1+len(run.again))) / ours.Seconds()
	rawRate := float64(events*int64(len(run.floors))) / (scan + write).Seconds()
	fl := run.floors[0]
	f := newFigure("Replay vs scan + writes of the final rows", "events/s", oursRate, rawRate, replayFloorGoal, false)
	f.Notes = fmt.Sprintf("raw: the parallel Scan of the events table (%d segments), then BatchWriteItem of the %s rows the replay left in its rebuilt tables, positions included, in %s requests of up to %d items (%d in flight, unprocessed items sent again) into fresh tables of the same key schema; %d rounds each, ours, raw, raw, ours; timed scan %s + writes %s in all, ours %s",
		cfg.ReplaySegments, thousands(fl.rows), thousands(fl.requests), floorBatchSize, cfg.ReplaySegments,
		len(run.floors), scan.Round(time.Millisecond), write.Round(time.Millisecond), ours.Round(time.Millisecond))
	f.Extra = map[string]float64{
		"events":         float64(events),
		"rounds":         float64(len(run.floors)),
		"rows":           float64(fl.rows),
		"batch_requests": float64(fl.requests),
		"scan_seconds":   scan.Seconds(),
		"write_seconds":  write.Seconds(),
		"ours_seconds":   ours.Seconds(),
		"rows_per_event": float64(fl.rows) / float64(max(events, 1)),
	}
	return f
}

// rawScan reads every item of table with scanTable and returns items per second.
func rawScan(ctx context.Context, db *dynamodb.Client, table string, segments int) (float64, error) {
	items, took, err := scanTable(ctx, db, table, segments)
	if err != nil {
		return 0, err
	}
	return float64(items) / took.Seconds(), nil
}

// scanTable reads every item of table with a parallel Scan of segments segments, pages of
// 1,000 items as the replay's scanner reads them, and returns how many it read and how long
// that took.
func scanTable(ctx context.Context, db *dynamodb.Client, table string, segments int) (int64, time.Duration, error) {
	var items atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	for seg := range segments {
		wg.Go(func() {
			p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{
				TableName:     aws.String(table),
				Segment:       aws.Int32(int32(seg)),
				TotalSegments: aws.Int32(int32(segments)),
				Limit:         aws.Int32(1000),
			})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					cancel(err)
					return
				}
				items.Add(int64(len(page.Items)))
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return 0, 0, fmt.Errorf("raw scan of %s: %w", table, err)
	}
	return items.Load(), took, nil
}
