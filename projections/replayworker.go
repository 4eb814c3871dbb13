package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"buildledger/eventstore"
	"buildledger/internal/parallel"
)

// flushThreshold is the number of buffered writes after which a worker writes them out.
const flushThreshold = 500

// maxSeenStreams bounds the positions a scan's worker remembers; past it, the position of a
// stream it has not seen is read.
const maxSeenStreams = 1 << 20

// replayWorker projects the streams routed to it.
type replayWorker struct {
	r       *Replayer
	gen     int64
	inScope map[*projection]bool
	prog    *progress

	pending []Put // rows and positions, written in batches
	guarded []Put // shared rows, written one by one with their guards
	// buffered are the streams with writes in pending: a batch that holds one of them
	// writes the buffer out first, so that the positions and rows it reads are current.
	buffered map[string]bool
	// seen are the positions this worker wrote in a fresh generation, which only it writes
	// for its streams during the scan: a stream it has not seen has no position there, and
	// one it has seen is where it left it, so neither needs a read (nil: read them all).
	seen map[string]int64
	// seenAll says seen holds every stream the worker wrote (it stayed below
	// maxSeenStreams).
	seenAll bool
}

// replayStream is the state of the stream a worker is projecting.
type replayStream struct {
	p      *projection
	stream string
	pos    int64
	// fresh says the generation held no position for the stream when the worker opened
	// it, so none of its own rows exists yet, and shared rows can be written by guard alone.
	fresh bool
	rows  view
	dirty map[ref]rowPut
	order []ref
}

func newReplayStream(p *projection, stream string, pos int64) *replayStream {
	return &replayStream{p: p, stream: stream, pos: pos, fresh: pos == 0, rows: view{}, dirty: map[ref]rowPut{}}
}

func (w *replayWorker) process(ctx context.Context, batch []eventstore.Record) error {
	defer w.prog.add(len(batch))
	recs := w.streamsOf(batch)
	if len(recs) == 0 {
		return nil
	}
	positions, err := w.positions(ctx, recs)
	if err != nil {
		return err
	}
	var st *replayStream
	for _, rec := range recs {
		if st == nil || st.stream != rec.Stream {
			if err := w.close(ctx, st); err != nil {
				return err
			}
			st = newReplayStream(projectionOf(rec.Stream), rec.Stream, positions[rec.Stream])
		}
		if err := w.apply(ctx, st, rec); err != nil {
			return err
		}
	}
	return w.close(ctx, st)
}

// streamsOf returns the in-scope records of batch, each stream's contiguous and in version
// order, whatever order the source had.
func (w *replayWorker) streamsOf(batch []eventstore.Record) []eventstore.Record {
	recs := make([]eventstore.Record, 0, len(batch))
	for _, rec := range batch {
		if p := projectionOf(rec.Stream); p != nil && w.inScope[p] && rec.Version >= 1 {
			recs = append(recs, rec)
		}
	}
	slices.SortStableFunc(recs, func(a, b eventstore.Record) int {
		return cmp.Or(strings.Compare(a.Stream, b.Stream), cmp.Compare(a.Version, b.Version))
	})
	return recs
}

// positions returns the positions of the streams of recs: from what the worker has seen
// when it can, else read, after writing out the buffer if it holds writes of a stream whose
// position or rows are then read.
func (w *replayWorker) positions(ctx context.Context, recs []eventstore.Record) (map[string]int64, error) {
	out := map[string]int64{}
	var keys []Key
	stale := false
	for i, rec := range recs {
		if i > 0 && recs[i-1].Stream == rec.Stream {
			continue
		}
		pos, seen := w.seen[rec.Stream]
		switch {
		case seen:
			// Its rows are read from the store when it goes on: they must be there.
			out[rec.Stream] = pos
			stale = stale || w.buffered[rec.Stream]
		case w.seenAll:
			out[rec.Stream] = 0
		default:
			keys = append(keys, positionKey(w.gen, rec.Stream))
			stale = stale || w.buffered[rec.Stream]
		}
	}
	if stale {
		if err := w.writeOut(ctx); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	items, err := w.r.store.Get(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("projections: replay: read positions: %w", err)
	}
	for _, k := range keys {
		pos := int64(0)
		if it := items[k]; it != nil {
			if pos, _, err = readPosition(it); err != nil {
				return nil, err
			}
		}
		out[k.Partition] = pos
	}
	return out, nil
}

// saw records that the worker wrote stream up to pos.
func (w *replayWorker) saw(stream string, pos int64) {
	if w.seen == nil {
		return
	}
	if _, ok := w.seen[stream]; !ok && len(w.seen) >= maxSeenStreams {
		w.seenAll = false
		return
	}
	w.seen[stream] = pos
}

// apply projects rec into the stream's in-memory rows, after filling any gap before it.
func (w *replayWorker) apply(ctx context.Context, st *replayStream, rec eventstore.Record) error {
	if rec.Version <= st.pos {
		return nil
	}
	if rec.Version > st.pos+1 {
		err := fillGap(ctx, w.r.cfg.Events, st.stream, st.pos, rec.Version, func(m eventstore.Record) error {
			return w.project(ctx, st, m)
		})
		if err != nil {
			return err
		}
	}
	if err := w.project(ctx, st, rec); err != nil {
		return err
	}
	if len(st.dirty) >= flushThreshold {
		// A long stream is written in parts, so that a worker's memory stays bounded.
		return w.flushStream(ctx, st)
	}
	return nil
}

// project applies rec to the stream's in-memory rows, loading the rows it needs that the
// worker does not hold yet.
func (w *replayWorker) project(ctx context.Context, st *replayStream, rec eventstore.Record) error {
	e, needs, err := st.p.neededRows(rec)
	if err != nil {
		return err
	}
	var load []ref
	for _, r := range needs {
		if _, known := st.rows[r]; known {
			continue
		}
		if st.fresh {
			st.rows[r] = nil
			continue
		}
		load = append(load, r)
	}
	if _, err := loadRows(ctx, w.r.store, w.gen, load, st.rows); err != nil {
		return fmt.Errorf("projections: replay: read rows of %s: %w", st.stream, err)
	}
	ch, err := st.p.changeOf(rec, e, st.rows)
	if err != nil {
		return err
	}
	for _, rp := range ch.puts {
		st.rows[rp.ref] = rp.item
		if _, seen := st.dirty[rp.ref]; !seen {
			st.order = append(st.order, rp.ref)
		}
		st.dirty[rp.ref] = rp
	}
	st.pos = rec.Version
	return nil
}

// close hands the stream's rows and position to the write buffer.
func (w *replayWorker) close(ctx context.Context, st *replayStream) error {
	if st == nil {
		return nil
	}
	return w.flushStream(ctx, st)
}

func (w *replayWorker) flushStream(ctx context.Context, st *replayStream) error {
	for _, r := range st.order {
		rp := st.dirty[r]
		if rp.guard != nil {
			w.guarded = append(w.guarded, rp.put(w.gen))
		} else {
			w.pending = append(w.pending, rp.put(w.gen))
		}
	}
	clear(st.dirty)
	st.order = st.order[:0]
	w.pending = append(w.pending, Put{Table: positionsTable(w.gen), Item: positionItem(st.stream, st.pos)})
	if w.buffered != nil {
		w.buffered[st.stream] = true
	}
	w.saw(st.stream, st.pos)
	if len(w.pending)+len(w.guarded) >= flushThreshold {
		return w.writeOut(ctx)
	}
	return nil
}

// writeOut writes the buffered rows and positions, then the shared rows: a guarded write
// that finds a newer row stored is dropped, which is what it is for.
func (w *replayWorker) writeOut(ctx context.Context) error {
	if len(w.pending) > 0 {
		if err := w.r.store.WriteBatch(ctx, dedupePuts(w.pending), nil); err != nil {
			return fmt.Errorf("projections: replay: write rows: %w", err)
		}
		w.pending = w.pending[:0]
	}
	// Guarded writes of different keys are independent; those of one key keep their order.
	byKey := map[Key][]Put{}
	var order []Key
	for _, p := range w.guarded {
		k, err := KeyOf(p.Table, p.Item)
		if err != nil {
			return err
		}
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], p)
	}
	err := parallel.ForEach(ctx, 8, order, func(ctx context.Context, k Key) error {
		for _, p := range byKey[k] {
			err := w.r.store.Write(ctx, []Put{p}, nil)
			if err != nil && !errors.Is(err, ErrConditionFailed) {
				return fmt.Errorf("projections: replay: write shared rows: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.guarded = w.guarded[:0]
	clear(w.buffered)
	return nil
}

// dedupePuts keeps the last put of each key: a stream flushed twice in one buffer (a
// mid-stream flush) wrote its position twice.
func dedupePuts(puts []Put) []Put {
	last := make(map[Key]int, len(puts))
	for i, p := range puts {
		k, err := KeyOf(p.Table, p.Item)
		if err != nil {
			return puts // WriteBatch reports it
		}
		last[k] = i
	}
	if len(last) == len(puts) {
		return puts
	}
	out := make([]Put, 0, len(last))
	for i, p := range puts {
		k, _ := KeyOf(p.Table, p.Item)
		if last[k] == i {
			out = append(out, p)
		}
	}
	return out
}
