package main

import (
	"context"
	"fmt"
	"time"
)

// oneShardShare is the share of the end-to-end figure's commands the round at one time index
// shard sends, on the same streams.
const oneShardShare = 4

// oneShardRound is what the end-to-end round at one time index shard wrote and how fast.
type oneShardRound struct {
	commands int
	took     time.Duration
	writes   []indexWrite
}

// measureOneShard runs a short end-to-end round, E2ECommands/oneShardShare commands on
// E2EStreams streams of the workload, one client per stream waiting for each command to
// show, against a second installation whose event store writes every event of a day to
// one time index partition (app.Config.TimeShards 1), and returns the index writes of its
// events table.
func measureOneShard(ctx context.Context, e *environment) (oneShardRound, error) {
	cfg := e.cfg
	a, ep, err := provisionEndToEnd(ctx, e, "e2e-ts1-", 1, nil)
	if err != nil {
		return oneShardRound{}, err
	}
	vis := newVisibility()
	stopWorker, err := startWorker(ctx, a, ep, cfg.E2EParallelism, vis)
	if err != nil {
		return oneShardRound{}, err
	}
	defer stopWorker()
	perStream := max(1, cfg.E2ECommands/oneShardShare/cfg.E2EStreams)
	// The streams are named as those of the end-to-end figure's own side: the same streams,
	// in an installation of their own.
	plan, err := planCommands(e.runID()+"-o", cfg.E2EStreams, perStream)
	if err != nil {
		return oneShardRound{}, err
	}
	send, err := workerSender(a, ep)
	if err != nil {
		return oneShardRound{}, err
	}
	start := time.Now()
	if _, err := runClosedLoop(ctx, plan, 0, perStream, send, vis); err != nil {
		return oneShardRound{}, fmt.Errorf("round at 1 time index shard: %w", err)
	}
	r := oneShardRound{commands: perStream * cfg.E2EStreams, took: time.Since(start)}
	e.logf("e2e at 1 time index shard: %d commands in %s (%.0f/s)", r.commands, r.took.Round(time.Millisecond), r.rate())
	if r.writes, err = scanIndexWrites(ctx, e.db, a.Names.EventsTable); err != nil {
		return oneShardRound{}, err
	}
	return r, nil
}

// rate is the round's commands per second.
func (r oneShardRound) rate() float64 { return float64(r.commands) / r.took.Seconds() }
