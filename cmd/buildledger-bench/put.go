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
)

// putGoal is the share of the raw PutItem rate Store.Put should reach with many callers,
// where it can batch their events into BatchWriteItem calls.
const putGoal = 2.0

// putBody is the JSON of the i-th event of caller w.
func putBody(w, i int) string {
	return `{"my":"event","w":` + strconv.Itoa(w) + `,"i":` + strconv.Itoa(i) + `}`
}

// measurePut compares Store.Put, dynamodb-eventstore's operation, with one PutItem of the
// same item per event, at each number of concurrent callers. Only the figure with more than
// one caller has a goal: a lone caller has nothing to batch with.
func measurePut(ctx context.Context, e *environment) ([]Figure, error) {
	st, rawEvents, _, drop, err := e.storeAndRaw(ctx, "put")
	if err != nil {
		return nil, err
	}
	defer drop()
	keys := eventstore.NewKeyGenerator(nil)
	ours := func(ctx context.Context, w, i int) error {
		_, err := st.Put(ctx, json.RawMessage(putBody(w, i)))
		return err
	}
	raw := func(ctx context.Context, w, i int) error {
		key := keys.Next()
		_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(rawEvents),
			Item:      rawEvent(eventstore.PutStreamPrefix+key, 1, key, eventstore.PutEventType, putBody(w, i), "", time.Now()),
		})
		return err
	}
	var figs []Figure
	for _, callers := range e.cfg.PutCallers {
		n := max(e.cfg.PutEvents, callers)
		cmp, err := e.compareRates(ctx, fmt.Sprintf("put, %d caller%s", callers, plural(callers)), n, callers, ours, raw)
		if err != nil {
			return figs, fmt.Errorf("%d callers: %w", callers, err)
		}
		goal := 0.0
		notes := fmt.Sprintf("%s events per side; raw: one PutItem per event", thousands(int64(n)))
		extra := map[string]float64{}
		if callers > 1 {
			goal = putGoal
			notes += "; ours batches concurrent puts into BatchWriteItem"
			ceiling, writers, size, err := handBatched(ctx, e, rawEvents, keys, n, callers)
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
	}
	return figs, nil
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
