package projections

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"

	"buildledger/eventstore"
)

// scan reads every event and projects the in-scope ones into generation gen. Records are
// routed to workers by stream, so that one worker owns each stream; a worker projects a
// batch stream by stream in memory and writes the rows and positions in batches.
func (r *Replayer) scan(ctx context.Context, gen int64, projs []*projection) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	prog := r.newProgress(ctx)
	pool := r.startWorkers(ctx, cancel, gen, inScope(projs), prog)
	srcErr := r.readEvents(ctx, pool.route)
	pool.stop()
	prog.finish()
	if cause := context.Cause(ctx); cause != nil {
		return prog.done.Load(), fmt.Errorf("projections: replay: %w", cause)
	}
	if srcErr != nil {
		return prog.done.Load(), fmt.Errorf("projections: replay: read events: %w", srcErr)
	}
	return prog.done.Load(), nil
}

// newProgress returns the progress of a scan, with the scanner's estimate of the total
// when it has one.
func (r *Replayer) newProgress(ctx context.Context) *progress {
	prog := &progress{fn: r.cfg.Progress, interval: r.cfg.ProgressInterval, now: r.cfg.Now, start: r.cfg.Now(), total: -1}
	prog.last = prog.start
	if c, ok := r.cfg.Scanner.(EventCounter); ok {
		if n, err := c.EstimateEvents(ctx); err == nil {
			prog.total = n
		}
	}
	return prog
}

// readEvents passes every event of the store to route: from the parallel scan when there is
// a Scanner, else page by page from ReadAll.
func (r *Replayer) readEvents(ctx context.Context, route func([]eventstore.Record) error) error {
	if r.cfg.Scanner != nil {
		return r.cfg.Scanner.ScanSegments(ctx, r.cfg.Segments, func(_ int, recs []eventstore.Record) error {
			return route(recs)
		})
	}
	return readPages(ctx, r.cfg.Events, "", r.cfg.PageSize, func(page eventstore.Page) error {
		return route(page.Records)
	})
}

// workerPool is the scan's replay workers, each fed the streams that hash to it.
type workerPool struct {
	ctx    context.Context
	seed   maphash.Seed
	inputs []chan []eventstore.Record
	wg     sync.WaitGroup
}

// startWorkers starts r.cfg.Workers workers projecting into generation gen; a worker that
// fails cancels ctx with its error, and the others then drain their input.
func (r *Replayer) startWorkers(ctx context.Context, cancel context.CancelCauseFunc, gen int64, scope map[*projection]bool, prog *progress) *workerPool {
	pool := &workerPool{ctx: ctx, seed: maphash.MakeSeed(), inputs: make([]chan []eventstore.Record, r.cfg.Workers)}
	for i := range pool.inputs {
		in := make(chan []eventstore.Record, 4)
		pool.inputs[i] = in
		// The generation was created for this scan: only its workers write it, each its own
		// streams.
		w := &replayWorker{r: r, gen: gen, inScope: scope, prog: prog, buffered: map[string]bool{},
			seen: map[string]int64{}, seenAll: true}
		pool.wg.Go(func() {
			for batch := range in {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := w.process(ctx, batch); err != nil {
					cancel(err)
				}
			}
			if ctx.Err() == nil {
				if err := w.writeOut(ctx); err != nil {
					cancel(err)
				}
			}
		})
	}
	return pool
}

// route hands each record to the worker that owns its stream.
func (p *workerPool) route(recs []eventstore.Record) error {
	parts := make([][]eventstore.Record, len(p.inputs))
	for _, rec := range recs {
		i := maphash.String(p.seed, rec.Stream) % uint64(len(p.inputs))
		parts[i] = append(parts[i], rec)
	}
	for i, part := range parts {
		if len(part) == 0 {
			continue
		}
		select {
		case p.inputs[i] <- part:
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		}
	}
	return nil
}

// stop closes the workers' inputs and waits until they have written everything out.
func (p *workerPool) stop() {
	for _, in := range p.inputs {
		close(in)
	}
	p.wg.Wait()
}
