package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo"
)

// putGoal is the share of the raw PutItem rate Store.Put should reach with many callers,
// where it can batch their events into BatchWriteItem calls.
const putGoal = 2.0

// measurePut compares Store.Put, dynamodb-eventstore's operation, with one PutItem of the
// same item per event, at each number of concurrent callers. Only the figure with more than
// one caller has a goal: a lone caller has nothing to batch with.
func measurePut(ctx context.Context, e *environment) ([]Figure, error) {
	events, commands, err := e.eventTables(ctx, "put")
	if err != nil {
		return nil, err
	}
	rawEvents, rawCommands, err := e.eventTables(ctx, "put-raw")
	if err != nil {
		return nil, err
	}
	defer e.dropTables(context.WithoutCancel(ctx), events, commands, rawEvents, rawCommands)
	st, err := dynamo.New(dynamo.Config{Client: e.db, EventsTable: events, CommandsTable: commands})
	if err != nil {
		return nil, err
	}
	keys := eventstore.NewKeyGenerator(nil)
	body := func(w, i int) string {
		return `{"my":"event","w":` + strconv.Itoa(w) + `,"i":` + strconv.Itoa(i) + `}`
	}
	ours := func(ctx context.Context, w, i int) error {
		_, err := st.Put(ctx, json.RawMessage(body(w, i)))
		return err
	}
	raw := func(ctx context.Context, w, i int) error {
		key := keys.Next()
		_, err := e.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(rawEvents),
			Item:      rawEvent(eventstore.PutStreamPrefix+key, 1, key, eventstore.PutEventType, body(w, i), "", time.Now()),
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
		if callers > 1 {
			goal = putGoal
			notes += "; ours batches concurrent puts into BatchWriteItem"
		} else {
			notes += "; no goal: a lone caller has nothing to batch with"
		}
		f := newFigure(fmt.Sprintf("Event put, %d caller%s", callers, plural(callers)), "events/s", cmp.ours, cmp.raw, goal, false)
		f.Notes = notes
		f.Extra = map[string]float64{
			"events":           float64(n),
			"callers":          float64(callers),
			"ours_round_noise": spread(cmp.oursRounds),
			"raw_round_noise":  spread(cmp.rawRounds),
		}
		figs = append(figs, f)
	}
	return figs, nil
}
