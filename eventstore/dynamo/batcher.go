package dynamo

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// batcher gathers concurrent calls into batches, as a database gathers commits, with at
// most maxInFlight batches written at once. A batch is as big as its slot's share of the
// current load, the calls waiting, being written and just answered (whose callers are
// likely to put again): the load spread over the fewest slots that carry it in batches of at
// most size, never fewer than two. Calls are written as soon as they make a share and a slot
// is free, or once the window has passed since a slot began waiting for them, whichever
// comes first.
//
// Taking whatever happens to be waiting instead makes batches alternate under a steady
// load: a call that finds every slot idle goes alone while the others gather behind it, so
// that 16 callers were written in batches of 1 and 15 in turn, not 8 and 8. A lone caller
// still goes at once: its share is itself.
type batcher struct {
	window      time.Duration
	size        int
	maxInFlight int
	// write stores calls and sends each call's result on its done channel.
	write func(ctx context.Context, calls []*putCall)

	mu       sync.Mutex
	pending  []*putCall
	inFlight int // batches being written
	writing  int // calls in the batches being written
	// answered counts the calls answered since the window last passed whose callers have
	// not put again: the load that is about to come back.
	answered int
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
	if b.answered > 0 {
		b.answered--
	}
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

// share is the number of calls one batch should carry under the current load; b.mu must be
// held.
func (b *batcher) share() int {
	load := len(b.pending) + b.writing + b.answered
	slots := min(max(2, (load+b.size-1)/b.size), b.maxInFlight)
	return min(max(1, (load+slots-1)/slots), b.size)
}

// dispatch takes the pending calls that may be written now and arms the window timer for
// those left waiting while a slot is free (when none is, the next batch to finish looks at
// them again); b.mu must be held. While a slot is free, pending calls are taken a share at a
// time, or, with due, all of them, in batches of at most size.
func (b *batcher) dispatch(due bool) [][]*putCall {
	var batches [][]*putCall
	for len(b.pending) > 0 && b.inFlight < b.maxInFlight {
		n := min(len(b.pending), b.size)
		if !due {
			share := b.share()
			if len(b.pending) < share {
				break
			}
			n = share
		}
		batch := make([]*putCall, n)
		copy(batch, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		batches = append(batches, batch)
		b.inFlight++
		b.writing += n
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

// start writes each batch in its own goroutine. A batch's slot is freed, and its calls
// counted as answered, before its callers hear their results, so that the share the slot
// waits for includes the callers about to put again.
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
			b.writing -= len(batch)
			b.answered += len(batch)
			next := b.dispatch(false)
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
// and a slot is free; otherwise the next batch to finish looks at them again. Callers that
// have not come back within the window are no longer counted on.
func (b *batcher) flush(gen uint64) {
	b.mu.Lock()
	if gen != b.gen || !b.timer {
		b.mu.Unlock()
		return
	}
	b.timer = false
	b.answered = 0
	batches := b.dispatch(true)
	b.mu.Unlock()
	b.start(batches)
}
