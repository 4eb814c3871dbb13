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
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
)

// replayGoal is the least share of the raw Scan rate a full replay should reach.
const replayGoal = 0.5

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
//   - the peak memory of the large replay with the small one's.
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
	run, err := replayBeside(ctx, e, small, large)
	if err != nil {
		return nil, err
	}
	return replayFigures(e.cfg, run), nil
}

// replayDataset is one events table of the replay figure and the read models rebuilt from it.
type replayDataset struct {
	what     string
	events   int
	table    string
	store    *dynamo.Store
	rmPrefix string
	written  int64
}

// fill writes ds's events of the workload to the events table and creates the read-model
// tables the replay rebuilds.
func (ds *replayDataset) fill(ctx context.Context, e *environment, events, commands string) error {
	ds.table = events
	// The events are stamped two hours back, as in a store whose history is older than
	// the replay's catch-up margin: otherwise the catch-up pass would apply every event
	// written just before the replay a second time, through the live path.
	past := func() time.Time { return time.Now().Add(-replayHistoryAge) }
	var err error
	if ds.store, err = dynamo.New(dynamo.Config{Client: e.db, EventsTable: events, CommandsTable: commands, Now: past}); err != nil {
		return err
	}
	start := time.Now()
	if ds.written, err = fillEventStore(ctx, ds.store, e.runID()+"-"+ds.what, ds.events, replayStreamLength, 8); err != nil {
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
}

// replay rebuilds every read model from ds with the projections' Replayer, as `buildledger
// replay` does, and measures the process's memory peak meanwhile.
func (ds *replayDataset) replay(ctx context.Context, e *environment) (replayResult, error) {
	rm, err := projdynamo.New(projdynamo.Config{Client: e.db, Prefix: ds.rmPrefix})
	if err != nil {
		return replayResult{}, err
	}
	var scanRate atomic.Value
	rp, err := projections.NewReplayer(projections.ReplayerConfig{
		Store:            rm,
		Events:           ds.store,
		Scanner:          ds.store,
		Segments:         e.cfg.ReplaySegments,
		ProgressInterval: -1,
		Progress:         func(_, _ int64, rate float64) { scanRate.Store(rate) },
	})
	if err != nil {
		return replayResult{}, err
	}
	probe := startMemProbe()
	res, err := rp.Replay(ctx, projections.ReplayScope{})
	mem := probe.stopProbe()
	if err != nil {
		return replayResult{}, fmt.Errorf("replay %s events: %w", thousands(ds.written), err)
	}
	if res.Events < ds.written {
		return replayResult{}, fmt.Errorf("replay read %d events, %d were written", res.Events, ds.written)
	}
	r := replayResult{res: res, mem: mem}
	if v, ok := scanRate.Load().(float64); ok {
		r.scanned = v
	}
	e.logf("replay: %s events in %s (%.0f/s; %.0f/s while scanning), peak RSS %.0f MiB, heap %.0f MiB",
		thousands(res.Events), res.Elapsed.Round(time.Millisecond), float64(res.Events)/res.Elapsed.Seconds(), r.scanned, mib(mem.rss), mib(mem.heap))
	return r, nil
}

// replayRun is the replay figure's measurements: both replays, and the raw Scan rate of the
// large table before and after its replay.
type replayRun struct {
	small, large          replayResult
	scanBefore, scanAfter float64
}

// replayBeside replays small, then large between two raw Scans of large's table, so that
// the raw rate is the mean of one taken on each side of the replay.
func replayBeside(ctx context.Context, e *environment, small, large *replayDataset) (replayRun, error) {
	var run replayRun
	var err error
	if run.small, err = small.replay(ctx, e); err != nil {
		return replayRun{}, err
	}
	if run.scanBefore, err = rawScan(ctx, e, large.table, e.cfg.ReplaySegments); err != nil {
		return replayRun{}, err
	}
	if run.large, err = large.replay(ctx, e); err != nil {
		return replayRun{}, err
	}
	if run.scanAfter, err = rawScan(ctx, e, large.table, e.cfg.ReplaySegments); err != nil {
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
	f := newFigure(fmt.Sprintf("Replay, %s events", thousands(large.res.Events)), "events/s", oursRate, rawRate, replayGoal, false)
	f.Notes = fmt.Sprintf("full rebuild of every read model into a new generation (create, scan and project, switch, catch-up, drop), %d scan segments, about %d events per stream of the four kinds; raw: parallel Scan of the events table, same segments; while scanning %s events/s; catch-up applied %s events",
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
	mem := memoryFigure(fmt.Sprintf("Memory, replay of %s vs %s events", thousands(large.res.Events), thousands(small.res.Events)),
		large.mem, small.mem, replayMemoryGoal, fmt.Sprintf("peak RSS of this process during each replay; goal: flat (at most %sx for 10x the events)", formatValue(replayMemoryGoal, "")))
	return []Figure{f, mem}
}

// rawScan reads every item of table with a parallel Scan of segments segments, pages of
// 1,000 items as the replay's scanner reads them, and returns items per second.
func rawScan(ctx context.Context, e *environment, table string, segments int) (float64, error) {
	var items atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	for seg := range segments {
		wg.Go(func() {
			p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{
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
	if err := context.Cause(ctx); err != nil {
		return 0, fmt.Errorf("raw scan of %s: %w", table, err)
	}
	return float64(items.Load()) / time.Since(start).Seconds(), nil
}
