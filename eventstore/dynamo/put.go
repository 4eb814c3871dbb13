package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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

// batcher gathers concurrent calls into batches, as a database gathers commits: a call that
// finds no batch being written is written at once, alone, so that a lone caller never waits;
// calls that arrive while batches are being written gather behind them, and are written as
// soon as a batch finishes, the window since the first of them passes, or they fill a
// batch, whichever comes first, with at most maxInFlight batches written at once.
type batcher struct {
	window      time.Duration
	size        int
	maxInFlight int
	// write stores calls and sends each call's result on its done channel.
	write func(ctx context.Context, calls []*putCall)

	mu       sync.Mutex
	pending  []*putCall
	inFlight int    // batches being written
	gen      uint64 // counts batches taken, so that a stale timer flushes nothing
	timer    bool   // a window timer runs for generation gen
}

// newBatcher returns a batcher that writes at most defaultPutMaxInFlight batches at once.
func newBatcher(window time.Duration, size int, write func(context.Context, []*putCall)) *batcher {
	return &batcher{window: window, size: size, maxInFlight: defaultPutMaxInFlight, write: write}
}

// submit queues c and waits for its result or for ctx to end.
func (b *batcher) submit(ctx context.Context, c *putCall) error {
	if b.window < 0 || b.size == 1 {
		b.write(ctx, []*putCall{c})
		return <-c.done
	}
	c.ctx = context.WithoutCancel(ctx)
	b.mu.Lock()
	b.pending = append(b.pending, c)
	batches := b.dispatch(false)
	b.mu.Unlock()
	b.start(batches)
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("eventstore/dynamo: put %s: %w (the event may still be stored)", c.key, ctx.Err())
	}
}

// dispatch takes the pending calls that may be written now, in batches of at most size, and
// arms the window timer for those left waiting while a slot is free (when none is, the next
// batch to finish takes them); b.mu must be held. Pending calls are written when no batch
// is in flight, when they fill a batch, or, with due, whenever a slot is free.
func (b *batcher) dispatch(due bool) [][]*putCall {
	var batches [][]*putCall
	for len(b.pending) > 0 && b.inFlight < b.maxInFlight &&
		(due || b.inFlight == 0 || len(b.pending) >= b.size) {
		n := min(len(b.pending), b.size)
		batch := make([]*putCall, n)
		copy(batch, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		batches = append(batches, batch)
		b.inFlight++
		b.gen++
		b.timer = false
	}
	if len(b.pending) > 0 && !b.timer && b.inFlight < b.maxInFlight {
		b.timer = true
		gen := b.gen
		time.AfterFunc(b.window, func() { b.flush(gen) })
	}
	return batches
}

// start writes each batch in its own goroutine; when one finishes, the calls that gathered
// meanwhile are due. A batch's slot is freed before its callers hear their results, so that
// a caller that puts again at once finds the slot free and is not made to wait.
func (b *batcher) start(batches [][]*putCall) {
	for _, batch := range batches {
		go func() {
			// The write answers copies of the calls; the answers are passed on once the
			// slot is free.
			copies := make([]*putCall, len(batch))
			for i, c := range batch {
				copies[i] = &putCall{key: c.key, item: c.item, ctx: c.ctx, done: make(chan error, 1)}
			}
			b.write(batch[0].ctx, copies)
			b.mu.Lock()
			b.inFlight--
			next := b.dispatch(true)
			b.mu.Unlock()
			b.start(next)
			for i, c := range batch {
				select {
				case err := <-copies[i].done:
					c.done <- err
				default:
					c.done <- fmt.Errorf("eventstore/dynamo: put %s: the batch write gave no result", c.key)
				}
			}
		}()
	}
}

// flush writes the pending calls whose window has passed, if they are still generation gen
// and a slot is free; otherwise the next batch to finish writes them.
func (b *batcher) flush(gen uint64) {
	b.mu.Lock()
	if gen != b.gen || !b.timer {
		b.mu.Unlock()
		return
	}
	b.timer = false
	batches := b.dispatch(true)
	b.mu.Unlock()
	b.start(batches)
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
