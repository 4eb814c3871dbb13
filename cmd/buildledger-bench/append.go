package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"buildledger/eventstore"
)

// appendGoal is the least share of the raw transaction rate Append should reach.
const appendGoal = 0.9

// measureAppend compares Append of one event per command with the hand-built transaction
// of the same items, at each number of concurrent streams (one writer per stream). The two
// sides write to separate pairs of tables, so they never share items or partitions.
func measureAppend(ctx context.Context, e *environment) ([]Figure, error) {
	st, rawEvents, rawCommands, drop, err := e.storeAndRaw(ctx, "append", e.db)
	if err != nil {
		return nil, err
	}
	defer drop()
	keys := eventstore.NewKeyGenerator(nil)
	var figs []Figure
	for _, streams := range e.cfg.AppendStreams {
		run := uuid.NewString()[:8]
		stream := func(w int) string { return fmt.Sprintf("bench:%s/%d", run, w) }
		body := func(i int) string { return `{"n":` + strconv.Itoa(i) + `}` }
		ours := func(ctx context.Context, w, i int) error {
			_, err := st.Append(ctx, stream(w), int64(i),
				[]eventstore.Event{{Type: "Benched", Body: json.RawMessage(body(i))}},
				eventstore.CommandRef{ID: uuid.NewString(), Type: "Bench", BodyHash: "h"})
			return err
		}
		raw := func(ctx context.Context, w, i int) error {
			_, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
				TransactItems: rawAppendItems(rawEvents, rawCommands, stream(w), int64(i),
					[]rawEventSpec{{key: keys.Next(), typ: "Benched", body: body(i)}}, uuid.NewString(), "Bench", "h", time.Now()),
			})
			return err
		}
		n := max(e.cfg.AppendEvents, streams)
		cmp, err := e.compareRates(ctx, fmt.Sprintf("append, %d stream%s", streams, plural(streams)), n, streams, ours, raw)
		if err != nil {
			return figs, fmt.Errorf("%d streams: %w", streams, err)
		}
		f := newFigure(fmt.Sprintf("Append, %d stream%s", streams, plural(streams)), "events/s", cmp.ours, cmp.raw, appendGoal, false)
		f.Notes = fmt.Sprintf("%s events per side, 1 event per command; raw: TransactWriteItems of the same items and conditions", thousands(int64(n)))
		f.Extra = map[string]float64{
			"events":           float64(n),
			"streams":          float64(streams),
			"ours_round_noise": spread(cmp.oursRounds),
			"raw_round_noise":  spread(cmp.rawRounds),
		}
		figs = append(figs, f)
	}
	return figs, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
