package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/internal/costmeter"
)

// putGoal is the share of the raw PutItem rate Store.Put should reach with many callers,
// where it can batch their events into BatchWriteItem calls.
const putGoal = 2.0

// putBody is the JSON of the i-th event of caller w.
func putBody(w, i int) string {
	return `{"my":"event","w":` + strconv.Itoa(w) + `,"i":` + strconv.Itoa(i) + `}`
}

// npmSeedGoal is the share of the seed's npm package's rate Store.Put should reach with
// many callers, on the same emulator in the same run.
const npmSeedGoal = 3.0

// measurePut compares Store.Put, dynamodb-eventstore's operation, with one PutItem of the
// same item per event, at each number of concurrent callers, and then with the seed's own npm
// package driven by Node (npmseed/driver.js). Only the figures with more than one caller have
// a goal: a lone caller has nothing to batch with. Each side's client reports to a cost meter
// of its own, so that the notes say how many BatchWriteItem requests an event took.
func measurePut(ctx context.Context, e *environment) ([]Figure, error) {
	oursMeter, rawMeter := costmeter.New(), costmeter.New()
	st, rawEvents, _, drop, err := e.storeAndRaw(ctx, "put", dynamodb.NewFromConfig(oursMeter.Attach(e.aws)))
	if err != nil {
		return nil, err
	}
	defer drop()
	rawDB := dynamodb.NewFromConfig(rawMeter.Attach(e.aws))
	keys := eventstore.NewKeyGenerator(nil)
	ours := func(ctx context.Context, w, i int) error {
		_, err := st.Put(ctx, json.RawMessage(putBody(w, i)))
		return err
	}
	raw := func(ctx context.Context, w, i int) error {
		key := keys.Next()
		_, err := rawDB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(rawEvents),
			Item:      rawEvent(eventstore.PutStreamPrefix+key, 1, key, eventstore.PutEventType, putBody(w, i), "", time.Now()),
		})
		return err
	}
	var figs []Figure
	for _, callers := range e.cfg.PutCallers {
		n := max(e.cfg.PutEvents, callers)
		oursBefore, rawBefore := oursMeter.Snapshot(), rawMeter.Snapshot()
		cmp, err := e.compareRates(ctx, fmt.Sprintf("put, %d caller%s", callers, plural(callers)), n, callers, ours, raw)
		if err != nil {
			return figs, fmt.Errorf("%d callers: %w", callers, err)
		}
		goal := 0.0
		notes := fmt.Sprintf("%s events per side; raw: one PutItem per event", thousands(int64(n)))
		extra := map[string]float64{}
		ceiling := 0.0
		oursWork, rawWork := oursMeter.Snapshot().Sub(oursBefore), rawMeter.Snapshot().Sub(rawBefore)
		perEvent, perRequest, requests := putRequests(oursWork)
		extra["ours_batchwriteitem_requests_per_event"] = perEvent
		extra["ours_events_per_batchwriteitem"] = perRequest
		extra["ours_dynamodb_requests_per_event"] = requests
		if put := rawWork.Of(costmeter.Op{Service: costmeter.ServiceDynamoDB, Operation: "PutItem"}); put.Entries > 0 {
			extra["raw_dynamodb_requests_per_event"] = float64(rawWork.Service(costmeter.ServiceDynamoDB).Requests) / float64(put.Entries)
		}
		if callers > 1 {
			goal = putGoal
			notes += fmt.Sprintf("; ours batches concurrent puts into BatchWriteItem: %s requests per event (%s events per request)",
				formatValue(perEvent, ""), formatValue(perRequest, ""))
			var writers, size int
			ceiling, writers, size, err = handBatched(ctx, e, rawEvents, keys, n, callers)
			if err != nil {
				return figs, fmt.Errorf("%d callers, hand-batched: %w", callers, err)
			}
			extra["hand_batched_events_per_s"] = ceiling
			notes += fmt.Sprintf("; BatchWriteItem by hand with as many events outstanding (%d × %d items): %s events/s",
				writers, size, formatValue(ceiling, ""))
		} else {
			notes += "; no goal: a lone caller has nothing to batch with"
		}
		f := newFigure(fmt.Sprintf("Event put, %d caller%s", callers, plural(callers)), "events/s", cmp.ours, cmp.raw, goal, false)
		f.Notes = notes
		extra["events"] = float64(n)
		extra["callers"] = float64(callers)
		extra["ours_round_noise"] = spread(cmp.oursRounds)
		extra["raw_round_noise"] = spread(cmp.rawRounds)
		f.Extra = extra
		figs = append(figs, f)
		if e.cfg.PutNPMSeed != npmSeedOff {
			figs = append(figs, npmSeedFigure(ctx, e, cmp.ours, ceiling, n, callers))
		}
	}
	return figs, nil
}

// putRequests returns, of the work of Store.Put counted in c, the BatchWriteItem requests
// per event stored, the events per BatchWriteItem request, and the DynamoDB requests of any
// kind per event stored; zeros when no event was stored.
func putRequests(c costmeter.Counts) (perEvent, perRequest, requests float64) {
	batch := c.Of(costmeter.Op{Service: costmeter.ServiceDynamoDB, Operation: "BatchWriteItem"})
	if batch.Entries == 0 || batch.Requests == 0 {
		return 0, 0, 0
	}
	events := float64(batch.Entries)
	return float64(batch.Requests) / events, events / float64(batch.Requests),
		float64(c.Service(costmeter.ServiceDynamoDB).Requests) / events
}

// npmSeedFigure compares ours, the rate Store.Put reached with callers, with the seed's npm
// package putting n events with as many callers right after; ceiling, when known, is the rate
// of hand-built batches with as many events outstanding, which the notes compare with the
// package too. When the package could not be measured, the figure has no baseline and its
// notes say why.
func npmSeedFigure(ctx context.Context, e *environment, ours, ceiling float64, n, callers int) Figure {
	goal := 0.0
	if callers > 1 {
		goal = npmSeedGoal
	}
	name := fmt.Sprintf("Event put vs npm %s, %d caller%s", npmSeedPackage, callers, plural(callers))
	rate, err := npmSeedRate(ctx, e, n, callers)
	if err != nil {
		e.logf("put, %d caller%s, npm: not measured: %v", callers, plural(callers), err)
		f := newFigure(name, "events/s", ours, 0, goal, false)
		f.Notes = "npm baseline not measured: " + err.Error()
		return f
	}
	e.logf("put, %d caller%s: ours %.0f/s, npm %.0f/s (%.2fx)", callers, plural(callers), ours, rate, ours/rate)
	f := newFigure(name, "events/s", ours, rate, goal, false)
	f.Notes = fmt.Sprintf("ours: the Event put figure above; raw here: the seed's npm package (aws-sdk 1.6.0, one BatchWriteItem "+
		"of one item per put) in Node, %s events after a warm-up, %d at a time, on a table of the key schema it documents, measured right after ours",
		thousands(int64(n)), callers)
	f.Extra = map[string]float64{"events": float64(n), "callers": float64(callers), "npm_events_per_s": rate}
	if ceiling > 0 {
		f.Notes += fmt.Sprintf("; BatchWriteItem by hand with as many events outstanding: %s the package's rate", formatRatio(ceiling/rate))
		f.Extra["hand_batched_over_npm"] = ceiling / rate
	}
	return f
}

// handBatched writes n events with hand-built BatchWriteItem calls, keeping as many events
// outstanding as there are callers (two writers, each with half of them per batch), and
// returns the rate: about the best any batching of that many callers can do on this
// emulator, which puts the goal in perspective.
func handBatched(ctx context.Context, e *environment, table string, keys *eventstore.KeyGenerator, n, callers int) (rate float64, writers, size int, err error) {
	writers = min(2, callers)
	size = min((callers+writers-1)/writers, 25)
	c := &contender{name: "hand-batched", next: make([]int, writers), op: func(ctx context.Context, w, i int) error {
		reqs := make([]types.WriteRequest, size)
		for j := range reqs {
			key := keys.Next()
			reqs[j] = types.WriteRequest{PutRequest: &types.PutRequest{
				Item: rawEvent(eventstore.PutStreamPrefix+key, 1, key, eventstore.PutEventType, putBody(w, i*size+j), "", time.Now()),
			}}
		}
		out, err := e.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
		if err == nil && len(out.UnprocessedItems) > 0 {
			err = errors.New("items left unprocessed")
		}
		return err
	}}
	batches := max(n/size, writers)
	if _, err := runOps(ctx, c, max(batches/10, writers), writers); err != nil { // warm-up
		return 0, 0, 0, err
	}
	took, err := runOps(ctx, c, batches, writers)
	if err != nil {
		return 0, 0, 0, err
	}
	return float64(batches*size) / took.Seconds(), writers, size, nil
}
