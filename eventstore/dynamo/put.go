package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/internal/backoff"
)

// Put implements eventstore.Store: the dynamodb-eventstore operation. The event is stored as
// version 1 of its own stream, "put:" + its key, with type "Put", so that ReadAll returns it
// with the other events. Concurrent calls share BatchWriteItem calls (see
// Config.PutBatchWindow); each gets its own key or its own error.
//
// If ctx ends before the write is confirmed, Put returns the context's error and the event
// may still be stored.
func (s *Store) Put(ctx context.Context, body json.RawMessage) (string, error) {
	if err := eventstore.ValidateBody(body); err != nil {
		return "", err
	}
	key := s.keys.Next()
	r := eventstore.NewPutRecord(key, body, s.clock())
	item := eventItem(r)
	if err := eventstore.CheckPutSize(itemSize(item)); err != nil {
		return "", err
	}
	if err := s.recordBuckets(ctx, []eventstore.Record{r}); err != nil {
		return "", err
	}
	if err := s.puts.submit(ctx, &putCall{key: key, item: item, done: make(chan error, 1)}); err != nil {
		return "", err
	}
	return key, nil
}

// putCall is one Put waiting for its batch to be written.
type putCall struct {
	key  string
	item map[string]types.AttributeValue
	// ctx is the caller's context without its cancellation: a batch keeps its first call's
	// values, never its end.
	ctx context.Context
	// done receives the call's result exactly once; it is buffered so that the writer never
	// waits for a caller that has given up.
	done chan error
}

var errUnprocessed = errors.New("still unprocessed")

// putBackoff spaces the attempts to write the items a BatchWriteItem left unprocessed,
// jittered so that throttled writers spread out.
var putBackoff = backoff.Backoff{Base: 10 * time.Millisecond, Max: time.Second}

// writePuts stores calls with BatchWriteItem, writing again, with backoff, the items
// DynamoDB leaves unprocessed (throttling), and gives every call its own result.
func (s *Store) writePuts(ctx context.Context, calls []*putCall) {
	pending := calls
	for attempt := 1; ; attempt++ {
		reqs := make([]types.WriteRequest, len(pending))
		for i, c := range pending {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: c.item}}
		}
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.cfg.EventsTable: reqs},
		})
		if err != nil {
			for _, c := range pending {
				c.done <- fmt.Errorf("eventstore/dynamo: put %s: %w", c.key, err)
			}
			return
		}
		left := make(map[string]bool)
		for _, req := range out.UnprocessedItems[s.cfg.EventsTable] {
			if req.PutRequest != nil {
				if k, ok := req.PutRequest.Item[attrKey].(*types.AttributeValueMemberS); ok {
					left[k.Value] = true
				}
			}
		}
		var again []*putCall
		for _, c := range pending {
			if left[c.key] {
				again = append(again, c)
			} else {
				c.done <- nil
			}
		}
		if len(again) == 0 {
			return
		}
		pending = again
		if attempt >= s.cfg.PutMaxAttempts {
			for _, c := range pending {
				c.done <- fmt.Errorf("eventstore/dynamo: put %s: %w after %d attempts", c.key, errUnprocessed, attempt)
			}
			return
		}
		if err := putBackoff.Wait(ctx, attempt-1); err != nil {
			for _, c := range pending {
				c.done <- fmt.Errorf("eventstore/dynamo: put %s: %w", c.key, err)
			}
			return
		}
	}
}
