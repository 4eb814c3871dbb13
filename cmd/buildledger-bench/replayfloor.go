package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/backoff"
	"buildledger/internal/costmeter"
	"buildledger/internal/ddb"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
)

// floorBatchSize is the most items one BatchWriteItem request takes.
const floorBatchSize = 25

// floorAttempts bounds how often one batch is sent while DynamoDB leaves items of it
// unprocessed; the waits between attempts double from floorBackoff.Base.
const floorAttempts = 10

var floorBackoff = backoff.Backoff{Base: 20 * time.Millisecond, Max: time.Second}

// finalRow is one item of a read-model table a replay rebuilt, as stored, with the logical
// name of its table.
type finalRow struct {
	table string
	item  map[string]types.AttributeValue
}

// collectFinalRows reads every item of the read-model generation a replay built under
// prefix (the tables of the highest generation, positions included; not the pointer and
// lease) and checks that they are as many as projections.Dump shows readers.
func collectFinalRows(ctx context.Context, db *dynamodb.Client, prefix string) ([]finalRow, error) {
	rm, err := projdynamo.New(projdynamo.Config{Client: db, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	tables, err := rm.Tables(ctx)
	if err != nil {
		return nil, err
	}
	gen := int64(-1)
	for _, t := range tables {
		if t.Name != projections.TableReadModel {
			gen = max(gen, t.Generation)
		}
	}
	var rows []finalRow
	for _, t := range tables {
		if t.Name == projections.TableReadModel || t.Generation != gen {
			continue
		}
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(projections.PhysicalName(prefix, t))})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read rebuilt table %s: %w", t, err)
			}
			for _, it := range page.Items {
				rows = append(rows, finalRow{table: t.Name, item: it})
			}
		}
	}
	dump, err := projections.Dump(ctx, rm)
	if err != nil {
		return nil, err
	}
	shown := 0
	for _, items := range dump {
		shown += len(items)
	}
	if shown != len(rows) {
		return nil, fmt.Errorf("generation %d under %s holds %d rows, readers see %d", gen, prefix, len(rows), shown)
	}
	return rows, nil
}

// batchRows splits rows, in order, into batches of at most size.
func batchRows(rows []finalRow, size int) [][]finalRow {
	var batches [][]finalRow
	for len(rows) > 0 {
		n := min(size, len(rows))
		batches = append(batches, rows[:n:n])
		rows = rows[n:]
	}
	return batches
}

// writeRequests is the RequestItems of a BatchWriteItem that puts batch into the tables of
// generation 0 under prefix.
func writeRequests(prefix string, batch []finalRow) map[string][]types.WriteRequest {
	reqs := map[string][]types.WriteRequest{}
	for _, r := range batch {
		name := projections.PhysicalName(prefix, projections.Table{Name: r.table})
		reqs[name] = append(reqs[name], types.WriteRequest{PutRequest: &types.PutRequest{Item: r.item}})
	}
	return reqs
}

// writeBatches puts every batch with one BatchWriteItem, parallel at once, sending again
// what DynamoDB leaves unprocessed, and returns how many requests it took.
func writeBatches(ctx context.Context, db *dynamodb.Client, prefix string, batches [][]finalRow, parallel int) (int64, error) {
	var requests atomic.Int64
	err := ddb.ForEach(ctx, parallel, batches, func(ctx context.Context, batch []finalRow) error {
		pending := writeRequests(prefix, batch)
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == floorAttempts {
				return fmt.Errorf("batch write: items still unprocessed after %d attempts", attempt)
			}
			if attempt > 0 {
				if err := floorBackoff.Wait(ctx, attempt-1); err != nil {
					return err
				}
			}
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			requests.Add(1)
			if err != nil {
				return fmt.Errorf("batch write: %w", err)
			}
			pending = out.UnprocessedItems
		}
		return nil
	})
	return requests.Load(), err
}

// floorResult is what the raw floor of a replay did: a parallel Scan of the events table,
// then the writes of the replay's final rows.
type floorResult struct {
	scanned, rows, requests int64
	scan, write             time.Duration
	work                    costmeter.Counts
}

// floorRounds is how often the floor runs, and the large replay with it.
const floorRounds = 2

// replayAgainstFloor runs the floor floorRounds times on large's table, then replays large
// floorRounds-1 more times, so that, after the replay that made rows, the two sides alternate
// (ours, floor, floor, ours) and drift of a noisy machine hits both alike. It returns the
// floor's rounds and the further replays.
func replayAgainstFloor(ctx context.Context, e *environment, cl replayClients, large *replayDataset, rows []finalRow) ([]floorResult, []replayResult, error) {
	var floors []floorResult
	for r := range floorRounds {
		f, err := runFloor(ctx, e, cl, fmt.Sprintf("replay-floor%d-", r+1), large.table, rows)
		if err != nil {
			return nil, nil, err
		}
		floors = append(floors, f)
	}
	var again []replayResult
	for range floorRounds - 1 {
		r, err := large.replay(ctx, e, cl.ours, cl.oursMeter)
		if err != nil {
			return nil, nil, err
		}
		again = append(again, r)
	}
	return floors, again, nil
}

// runFloor scans eventsTable with segments parallel segments, then puts rows into fresh
// tables of the read model's key schema under what (created beforehand, untimed) with as
// many BatchWriteItem calls in flight, through the raw side's client and meter.
func runFloor(ctx context.Context, e *environment, cl replayClients, what, eventsTable string, rows []finalRow) (floorResult, error) {
	db, meter := cl.raw, cl.rawMeter
	prefix := e.name(what)
	created, err := projdynamo.CreateTables(ctx, e.db, prefix)
	e.track(created...)
	defer e.dropTables(context.WithoutCancel(ctx), created...)
	if err != nil {
		return floorResult{}, err
	}
	segments := e.cfg.ReplaySegments
	batches := batchRows(rows, floorBatchSize)
	before := meter.Snapshot()
	f := floorResult{rows: int64(len(rows))}
	if f.scanned, f.scan, err = scanTable(ctx, db, eventsTable, segments); err != nil {
		return floorResult{}, err
	}
	start := time.Now()
	if f.requests, err = writeBatches(ctx, db, prefix, batches, segments); err != nil {
		return floorResult{}, err
	}
	f.write = time.Since(start)
	f.work = meter.Snapshot().Sub(before)
	e.logf("replay floor: scanned %s events in %s, wrote %s rows in %s BatchWriteItem requests in %s (%.0f items/s)",
		thousands(f.scanned), f.scan.Round(time.Millisecond), thousands(f.rows), thousands(f.requests), f.write.Round(time.Millisecond), float64(f.scanned)/(f.scan+f.write).Seconds())
	return f, nil
}
