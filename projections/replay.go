package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
)

// EventScanner reads every event of the event store in parallel segments, as the DynamoDB
// and in-memory event stores do. fn is called concurrently from the segments, each call with
// records of one segment; a stream's records usually arrive together and in version order,
// but the replay does not rely on it.
type EventScanner interface {
	ScanSegments(ctx context.Context, segments int, fn func(segment int, recs []eventstore.Record) error) error
}

// EventCounter is implemented by scanners that can estimate how many events the store
// holds, for progress reports.
type EventCounter interface {
	EstimateEvents(ctx context.Context) (int64, error)
}

// ReplayerConfig configures a Replayer.
type ReplayerConfig struct {
	// Store is the read-model store to rebuild; required.
	Store Store
	// Events is the event store: the source of a replay without Scanner, and of the
	// catch-up pass, gap filling and single-stream rebuilds; required.
	Events eventstore.Store
	// Scanner reads the whole event store in parallel segments. Without it the replay reads
	// Events.ReadAll page by page.
	Scanner EventScanner
	// Segments is the number of parallel scan segments; default 8.
	Segments int
	// Workers is the number of goroutines that project events (each stream is always
	// projected by the same one); default 8.
	Workers int
	// PageSize is the number of events per ReadAll call; default 1000.
	PageSize int
	// CatchUpMargin is how far before the replay's start the catch-up pass begins reading
	// events, to cover writers whose clocks lag or whose appends commit late; default 1 minute.
	CatchUpMargin time.Duration
	// LeaseTTL is how long the replay lease lasts without renewal; a replay that crashed
	// blocks the next one for at most this long. Default 30 s.
	LeaseTTL time.Duration
	// MaxAttempts bounds how often the catch-up pass tries one event again after losing a
	// race with the live projector; default 10.
	MaxAttempts int
	// Progress, when set, is called with the number of events read so far, the estimated
	// total (-1 when unknown) and the rate in events per second.
	Progress func(done, total int64, rate float64)
	// ProgressInterval is the least time between two Progress calls; default 1 s. A negative
	// value reports after every batch of events.
	ProgressInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *ReplayerConfig) setDefaults() {
	if c.Segments == 0 {
		c.Segments = 8
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.PageSize == 0 {
		c.PageSize = 1000
	}
	if c.CatchUpMargin == 0 {
		c.CatchUpMargin = time.Minute
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = 30 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultMaxAttempts
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem of the configuration at once.
func (c ReplayerConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("projections: replayer config: Store is nil"))
	}
	if c.Events == nil {
		errs = append(errs, errors.New("projections: replayer config: Events is nil"))
	}
	if c.Segments < 1 || c.Segments > 1000 {
		errs = append(errs, fmt.Errorf("projections: replayer config: Segments %d is outside 1..1000", c.Segments))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("projections: replayer config: Workers %d is below 1", c.Workers))
	}
	if c.PageSize < 1 {
		errs = append(errs, fmt.Errorf("projections: replayer config: PageSize %d is below 1", c.PageSize))
	}
	if c.CatchUpMargin < 0 {
		errs = append(errs, fmt.Errorf("projections: replayer config: CatchUpMargin %s is negative", c.CatchUpMargin))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("projections: replayer config: LeaseTTL %s is below 1s", c.LeaseTTL))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("projections: replayer config: MaxAttempts %d is below 1", c.MaxAttempts))
	}
	return errors.Join(errs...)
}

// ReplayScope says what a replay rebuilds: everything when both fields are empty.
type ReplayScope struct {
	// Projection rebuilds one projection: "builds", "statuses", "locks" or "jobs".
	Projection string
	// Stream rebuilds the rows of one stream, e.g. "repo:api/foo".
	Stream string
}

// ReplayResult reports what a replay did.
type ReplayResult struct {
	// Generation is the generation the rebuilt tables belong to.
	Generation int64
	// Events is the number of events read by the rebuild pass.
	Events int64
	// CaughtUp is the number of events read by the catch-up pass.
	CaughtUp int64
	// Dropped are the tables dropped: the old generation and leftovers of interrupted runs.
	Dropped []Table
	// Elapsed is the replay's duration.
	Elapsed time.Duration
}

// Replayer rebuilds read models from the event store.
//
// A full or single-projection replay builds a fresh generation of the projections' tables
// from every event, switches readers to it by updating the generation pointer, waits
// GenerationCacheTTL so that every reader and the live projector have moved over, applies
// the events recorded since the replay began (minus CatchUpMargin) through the live path,
// then drops the old generation. Queries never see a half-built model, and a live projector
// running meanwhile keeps the old generation current until the switch and the new one after
// it; positions and gap filling make the new one complete.
//
// A single-stream replay works in place: it fences the stream's position (the live
// projector then returns ErrStreamRebuilding for that stream, to be redelivered), recomputes
// the stream's rows from its events, overwrites them and deletes rows that should not exist,
// then lifts the fence. Readers see each row either as before or rebuilt, never missing.
//
// Only one replay runs at a time (a lease in the readmodel table). A replay that is
// interrupted leaves the old generation live and its partial tables unreferenced; the next
// replay drops them first, and finishes a catch-up pass that had not completed.
type Replayer struct {
	cfg   ReplayerConfig
	store Store
	a     *applier
}

// NewReplayer returns a Replayer.
func NewReplayer(cfg ReplayerConfig) (*Replayer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Replayer{cfg: cfg, store: cfg.Store, a: &applier{
		store:       cfg.Store,
		events:      cfg.Events,
		gens:        newGenerations(cfg.Store, GenerationCacheTTL, cfg.Now),
		maxAttempts: cfg.MaxAttempts,
	}}, nil
}

// Replay rebuilds what scope names.
func (r *Replayer) Replay(ctx context.Context, scope ReplayScope) (res ReplayResult, err error) {
	start := r.cfg.Now()
	defer func() { res.Elapsed = r.cfg.Now().Sub(start) }()
	var projs []*projection
	switch {
	case scope.Projection != "" && scope.Stream != "":
		return res, fmt.Errorf("%w: replay either a projection or a stream, not both", ErrInvalidQuery)
	case scope.Stream != "":
		if _, _, err := splitStream(scope.Stream); err != nil {
			return res, fmt.Errorf("%w: %w", ErrInvalidQuery, err)
		}
	case scope.Projection != "":
		p, ok := projectionByName(scope.Projection)
		if !ok {
			return res, fmt.Errorf("%w: unknown projection %q (want one of %s)", ErrInvalidQuery, scope.Projection, strings.Join(ProjectionNames(), ", "))
		}
		projs = []*projection{p}
	default:
		projs = allProjections
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l := lease{store: r.store, owner: uuid.NewString(), ttl: r.cfg.LeaseTTL, now: r.cfg.Now}
	if err := l.acquire(ctx); err != nil {
		return res, err
	}
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		t := time.NewTicker(r.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := l.renew(ctx); err != nil && ctx.Err() == nil {
					cancel(err) // another replay may take over: stop before we both write
					return
				}
			}
		}
	}()
	defer func() {
		cancel(nil)
		<-renewDone
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if rerr := l.release(rctx); rerr != nil && err == nil {
			err = rerr
		}
		if err != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.Canceled) {
			err = errors.Join(err, context.Cause(ctx))
		}
	}()

	ptr, err := loadPointer(ctx, r.store)
	if err != nil {
		return res, err
	}
	if ptr, err = r.finishCatchUps(ctx, ptr, &res); err != nil {
		return res, err
	}
	if scope.Stream != "" {
		return res, r.rebuildStream(ctx, ptr, scope.Stream, &res)
	}
	return res, r.rebuild(ctx, ptr, projs, &res)
}

// rebuild builds the projections into a fresh generation and switches readers over.
func (r *Replayer) rebuild(ctx context.Context, ptr pointer, projs []*projection, res *ReplayResult) error {
	dropped, err := r.dropUnreferenced(ctx, ptr)
	res.Dropped = append(res.Dropped, dropped...)
	if err != nil {
		return err
	}
	gen := ptr.next
	reserved := ptr.clone()
	reserved.next = gen + 1
	if ptr, err = savePointer(ctx, r.store, ptr, reserved); err != nil {
		return err
	}
	res.Generation = gen
	tables := []Table{positionsTable(gen)}
	for _, p := range projs {
		for _, name := range projectionTables(p.name) {
			tables = append(tables, Table{Name: name, Generation: gen})
		}
	}
	if _, err := r.store.CreateTables(ctx, tables); err != nil {
		return fmt.Errorf("projections: replay: create generation %d: %w", gen, err)
	}

	from := eventstore.FirstKeyAt(r.cfg.Now().Add(-r.cfg.CatchUpMargin))
	n, err := r.scan(ctx, gen, projs)
	res.Events = n
	if err != nil {
		return err
	}

	switched := ptr.clone()
	for _, p := range projs {
		switched.gens[p.name] = gen
		switched.catchUp[p.name] = from
	}
	if ptr, err = savePointer(ctx, r.store, ptr, switched); err != nil {
		return err
	}
	ptr, err = r.finishCatchUps(ctx, ptr, res)
	if err != nil {
		return err
	}
	dropped, err = r.dropUnreferenced(ctx, ptr)
	res.Dropped = append(res.Dropped, dropped...)
	return err
}

// finishCatchUps runs the catch-up passes the pointer lists, then clears them. It first
// waits GenerationCacheTTL, so that writers still pointed at the old generation have moved
// to the new one: what they wrote to the old one is recorded by then and the pass reads it.
func (r *Replayer) finishCatchUps(ctx context.Context, ptr pointer, res *ReplayResult) (pointer, error) {
	if len(ptr.catchUp) == 0 {
		return ptr, nil
	}
	if err := sleep(ctx, GenerationCacheTTL+GenerationCacheTTL/4); err != nil {
		return ptr, err
	}
	byFrom := map[string][]*projection{}
	for name, from := range ptr.catchUp {
		p, ok := projectionByName(name)
		if !ok {
			continue
		}
		byFrom[from] = append(byFrom[from], p)
	}
	for from, projs := range byFrom {
		n, err := r.catchUp(ctx, ptr, projs, from)
		res.CaughtUp += n
		if err != nil {
			return ptr, err
		}
	}
	done := ptr.clone()
	clear(done.catchUp)
	return savePointer(ctx, r.store, ptr, done)
}

// catchUp applies, through the live path, the events recorded after key from to the
// projections' current generations.
func (r *Replayer) catchUp(ctx context.Context, ptr pointer, projs []*projection, from string) (int64, error) {
	inScope := map[*projection]bool{}
	for _, p := range projs {
		inScope[p] = true
	}
	var n int64
	after := from
	for {
		page, err := r.cfg.Events.ReadAll(ctx, after, r.cfg.PageSize)
		if err != nil {
			return n, fmt.Errorf("projections: catch up: %w", err)
		}
		n += int64(len(page.Records))
		streams := map[string][]eventstore.Record{}
		var order []string
		for _, rec := range page.Records {
			if p := projectionOf(rec.Stream); p != nil && inScope[p] {
				if streams[rec.Stream] == nil {
					order = append(order, rec.Stream)
				}
				streams[rec.Stream] = append(streams[rec.Stream], rec)
			}
		}
		// Most events of the pass are in the new generation already: one batched read of
		// the positions skips them instead of one read per event.
		keys := make([]Key, len(order))
		for i, stream := range order {
			keys[i] = positionKey(ptr.gens[projectionOf(stream).name], stream)
		}
		positions, err := r.store.Get(ctx, keys)
		if err != nil {
			return n, fmt.Errorf("projections: catch up: read positions: %w", err)
		}
		if err := forEach(ctx, r.cfg.Workers, order, func(ctx context.Context, stream string) error {
			p := projectionOf(stream)
			var pos int64
			if it := positions[positionKey(ptr.gens[p.name], stream)]; it != nil {
				rd := itemReader{table: TablePositions, item: it}
				pos = rd.int(attrVersion)
			}
			for _, rec := range streams[stream] {
				if rec.Version <= pos {
					continue
				}
				if err := r.a.apply(ctx, p, rec, ptr.gens[p.name]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return n, err
		}
		if page.Next == "" {
			return n, nil
		}
		after = page.Next
	}
}

// dropUnreferenced drops every table the pointer does not refer to: old generations and
// the partial tables of interrupted replays.
func (r *Replayer) dropUnreferenced(ctx context.Context, ptr pointer) ([]Table, error) {
	tables, err := r.store.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("projections: replay: list tables: %w", err)
	}
	var drop []Table
	for _, t := range tables {
		if !ptr.references(t) {
			drop = append(drop, t)
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	if err := r.store.DropTables(ctx, drop); err != nil {
		return nil, fmt.Errorf("projections: replay: drop tables: %w", err)
	}
	return drop, nil
}

// progress reports the replay's progress to the configured callback.
type progress struct {
	fn       func(done, total int64, rate float64)
	interval time.Duration
	now      func() time.Time
	start    time.Time
	total    int64
	done     atomic.Int64

	mu   sync.Mutex
	last time.Time
}

func (p *progress) add(n int) {
	p.done.Add(int64(n))
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.interval > 0 && now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	// Read under the lock, so that concurrent workers never report a count going back.
	p.report(p.done.Load(), now)
}

func (p *progress) finish() {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.report(p.done.Load(), p.now())
}

func (p *progress) report(done int64, now time.Time) {
	rate := 0.0
	if secs := now.Sub(p.start).Seconds(); secs > 0 {
		rate = float64(done) / secs
	}
	p.fn(done, p.total, rate)
}

// scan reads every event and projects the in-scope ones into generation gen. Records are
// routed to workers by stream, so that one worker owns each stream; a worker projects a
// batch stream by stream in memory and writes the rows and positions in batches.
func (r *Replayer) scan(ctx context.Context, gen int64, projs []*projection) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	inScope := map[*projection]bool{}
	for _, p := range projs {
		inScope[p] = true
	}
	prog := &progress{fn: r.cfg.Progress, interval: r.cfg.ProgressInterval, now: r.cfg.Now, start: r.cfg.Now(), total: -1}
	prog.last = prog.start
	if c, ok := r.cfg.Scanner.(EventCounter); ok {
		if n, err := c.EstimateEvents(ctx); err == nil {
			prog.total = n
		}
	}

	seed := maphash.MakeSeed()
	inputs := make([]chan []eventstore.Record, r.cfg.Workers)
	var wg sync.WaitGroup
	for i := range inputs {
		inputs[i] = make(chan []eventstore.Record, 4)
		w := &replayWorker{r: r, gen: gen, inScope: inScope, prog: prog, buffered: map[string]bool{}}
		wg.Go(func() {
			for batch := range inputs[i] {
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
	route := func(recs []eventstore.Record) error {
		parts := make([][]eventstore.Record, len(inputs))
		for _, rec := range recs {
			i := maphash.String(seed, rec.Stream) % uint64(len(inputs))
			parts[i] = append(parts[i], rec)
		}
		for i, part := range parts {
			if len(part) == 0 {
				continue
			}
			select {
			case inputs[i] <- part:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		return nil
	}

	var srcErr error
	if r.cfg.Scanner != nil {
		srcErr = r.cfg.Scanner.ScanSegments(ctx, r.cfg.Segments, func(_ int, recs []eventstore.Record) error {
			return route(recs)
		})
	} else {
		after := ""
		for {
			page, err := r.cfg.Events.ReadAll(ctx, after, r.cfg.PageSize)
			if err != nil {
				srcErr = err
				break
			}
			if err := route(page.Records); err != nil {
				srcErr = err
				break
			}
			if page.Next == "" {
				break
			}
			after = page.Next
		}
	}
	for _, in := range inputs {
		close(in)
	}
	wg.Wait()
	prog.finish()
	if cause := context.Cause(ctx); cause != nil {
		return prog.done.Load(), fmt.Errorf("projections: replay: %w", cause)
	}
	if srcErr != nil {
		return prog.done.Load(), fmt.Errorf("projections: replay: read events: %w", srcErr)
	}
	return prog.done.Load(), nil
}

// flushThreshold is the number of buffered writes after which a worker writes them out.
const flushThreshold = 500

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

func (w *replayWorker) process(ctx context.Context, batch []eventstore.Record) error {
	defer w.prog.add(len(batch))
	recs := make([]eventstore.Record, 0, len(batch))
	for _, rec := range batch {
		if p := projectionOf(rec.Stream); p != nil && w.inScope[p] && rec.Version >= 1 {
			recs = append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	// Sorting makes each stream of the batch contiguous, whatever order the source had.
	slices.SortStableFunc(recs, func(a, b eventstore.Record) int {
		return cmp.Or(strings.Compare(a.Stream, b.Stream), cmp.Compare(a.Version, b.Version))
	})
	var keys []Key
	stale := false
	for i, rec := range recs {
		if i == 0 || recs[i-1].Stream != rec.Stream {
			keys = append(keys, positionKey(w.gen, rec.Stream))
			stale = stale || w.buffered[rec.Stream]
		}
	}
	if stale {
		if err := w.writeOut(ctx); err != nil {
			return err
		}
	}
	positions, err := w.r.store.Get(ctx, keys)
	if err != nil {
		return fmt.Errorf("projections: replay: read positions: %w", err)
	}
	var st *replayStream
	for _, rec := range recs {
		if st == nil || st.stream != rec.Stream {
			if err := w.close(ctx, st); err != nil {
				return err
			}
			pos := int64(0)
			if it := positions[positionKey(w.gen, rec.Stream)]; it != nil {
				r := itemReader{table: TablePositions, item: it}
				if pos = r.int(attrVersion); r.err != nil {
					return r.err
				}
			}
			st = &replayStream{p: projectionOf(rec.Stream), stream: rec.Stream, pos: pos, fresh: pos == 0, rows: view{}, dirty: map[ref]rowPut{}}
		}
		if err := w.apply(ctx, st, rec); err != nil {
			return err
		}
	}
	return w.close(ctx, st)
}

// apply projects rec into the stream's in-memory rows, after filling any gap before it.
func (w *replayWorker) apply(ctx context.Context, st *replayStream, rec eventstore.Record) error {
	if rec.Version <= st.pos {
		return nil
	}
	if rec.Version > st.pos+1 {
		missing, err := w.r.cfg.Events.LoadRange(ctx, st.stream, st.pos+1, rec.Version-1)
		if err != nil {
			return fmt.Errorf("projections: replay: fill gap %d..%d of %s: %w", st.pos+1, rec.Version-1, st.stream, err)
		}
		for _, m := range missing {
			if m.Version != st.pos+1 {
				return fmt.Errorf("projections: replay: fill gap of %s: event store returned version %d, want %d", st.stream, m.Version, st.pos+1)
			}
			if err := w.project(ctx, st, m); err != nil {
				return err
			}
		}
		if st.pos != rec.Version-1 {
			return fmt.Errorf("projections: replay: fill gap of %s: event store has versions up to %d only", st.stream, st.pos)
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

func (w *replayWorker) project(ctx context.Context, st *replayStream, rec eventstore.Record) error {
	e, ok, err := decodeEvent(rec)
	if err != nil {
		return err
	}
	if ok {
		var load []ref
		for _, r := range st.p.needs(e) {
			if _, known := st.rows[r]; known {
				continue
			}
			if st.fresh {
				st.rows[r] = nil
				continue
			}
			load = append(load, r)
		}
		if len(load) > 0 {
			keys := make([]Key, len(load))
			for i, r := range load {
				keys[i] = r.key(w.gen)
			}
			items, err := w.r.store.Get(ctx, keys)
			if err != nil {
				return fmt.Errorf("projections: replay: read rows of %s: %w", st.stream, err)
			}
			for i, r := range load {
				st.rows[r] = items[keys[i]]
			}
		}
		ch, err := st.p.project(rec, e, st.rows)
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
		p := Put{Table: Table{Name: r.table, Generation: w.gen}, Item: rp.item, Guard: rp.guard}
		if rp.guard != nil {
			w.guarded = append(w.guarded, p)
		} else {
			w.pending = append(w.pending, p)
		}
	}
	clear(st.dirty)
	st.order = st.order[:0]
	w.pending = append(w.pending, Put{Table: positionsTable(w.gen), Item: positionItem(st.stream, st.pos)})
	if w.buffered != nil {
		w.buffered[st.stream] = true
	}
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
	err := forEach(ctx, 8, order, func(ctx context.Context, k Key) error {
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

// rebuildStream rebuilds the rows of one stream in place (see Replayer).
func (r *Replayer) rebuildStream(ctx context.Context, ptr pointer, stream string, res *ReplayResult) error {
	p, parts, err := splitStream(stream)
	if err != nil {
		return err
	}
	gen := ptr.gens[p.name]
	res.Generation = gen
	if err := r.fence(ctx, gen, stream); err != nil {
		return err
	}

	recs, err := r.cfg.Events.Load(ctx, stream, 1)
	if err != nil {
		return fmt.Errorf("projections: replay %s: %w", stream, err)
	}
	res.Events = int64(len(recs))
	// The stream's own rows are computed from nothing; a shared row (the status head) is
	// computed as if absent too and written by its guard, like the scan does.
	st := &replayStream{p: p, stream: stream, fresh: true, rows: view{}, dirty: map[ref]rowPut{}}
	w := &replayWorker{r: r, gen: gen}
	for _, rec := range recs {
		if rec.Version != st.pos+1 {
			return fmt.Errorf("projections: replay %s: event store returned version %d, want %d", stream, rec.Version, st.pos+1)
		}
		if err := w.project(ctx, st, rec); err != nil {
			return err
		}
	}

	existing, err := r.ownedRows(ctx, p, gen, parts)
	if err != nil {
		return err
	}
	var puts, shared []Put
	keep := map[Key]bool{}
	for _, ref := range st.order {
		rp := st.dirty[ref]
		put := Put{Table: Table{Name: ref.table, Generation: gen}, Item: rp.item, Guard: rp.guard}
		if rp.guard != nil {
			shared = append(shared, put)
			continue
		}
		puts = append(puts, put)
		keep[ref.key(gen)] = true
	}
	var deletes []Key
	for _, k := range existing {
		if !keep[k] {
			deletes = append(deletes, k)
		}
	}
	if err := r.store.WriteBatch(ctx, puts, deletes); err != nil {
		return fmt.Errorf("projections: replay %s: write rows: %w", stream, err)
	}
	for _, put := range shared {
		if err := r.writeSharedInPlace(ctx, put); err != nil {
			return err
		}
	}
	// Lifting the fence is unconditional: the lease makes this replay its only writer.
	var unfence error
	if st.pos == 0 {
		// A stream without events has no position, as if it had never been fenced.
		unfence = r.store.Write(ctx, nil, []Key{positionKey(gen, stream)})
	} else {
		unfence = r.store.Write(ctx, []Put{{Table: positionsTable(gen), Item: positionItem(stream, st.pos)}}, nil)
	}
	if unfence != nil {
		return fmt.Errorf("projections: replay %s: lift fence: %w", stream, unfence)
	}
	// Events appended while the stream was fenced were refused by the live projector.
	more, err := r.cfg.Events.Load(ctx, stream, st.pos+1)
	if err != nil {
		return fmt.Errorf("projections: replay %s: catch up: %w", stream, err)
	}
	for _, rec := range more {
		if err := r.a.apply(ctx, p, rec, gen); err != nil {
			return err
		}
	}
	res.CaughtUp = int64(len(more))
	return nil
}

// fence sets the stream's position to fenceVersion, remembering the position it had, so
// that the live projector leaves the stream alone until the rebuild is done.
func (r *Replayer) fence(ctx context.Context, gen int64, stream string) error {
	k := positionKey(gen, stream)
	for attempt := 1; ; attempt++ {
		items, err := r.store.Get(ctx, []Key{k})
		if err != nil {
			return fmt.Errorf("projections: replay %s: read position: %w", stream, err)
		}
		var before int64
		guard := Absent()
		if it := items[k]; it != nil {
			rd := itemReader{table: TablePositions, item: it}
			v := rd.int(attrVersion)
			if v == fenceVersion {
				// A rebuild that was interrupted: take its fence over.
				before, guard = rd.int(attrBefore), Equal(attrVersion, int64(fenceVersion))
			} else {
				before, guard = v, Equal(attrVersion, v)
			}
			if rd.err != nil {
				return rd.err
			}
		}
		it := positionItem(stream, fenceVersion)
		it[attrBefore] = before
		err = r.store.Write(ctx, []Put{{Table: positionsTable(gen), Item: it, Guard: guard}}, nil)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrConditionFailed) || attempt >= r.cfg.MaxAttempts {
			return fmt.Errorf("projections: replay %s: fence: %w", stream, err)
		}
	}
}

// writeSharedInPlace writes a rebuilt shared row. A status head that is the stream's own is
// replaced whatever its stream version (it may be wrong: that is why one rebuilds); any
// other head is only replaced by a newer one.
func (r *Replayer) writeSharedInPlace(ctx context.Context, put Put) error {
	k, err := KeyOf(put.Table, put.Item)
	if err != nil {
		return err
	}
	items, err := r.store.Get(ctx, []Key{k})
	if err != nil {
		return fmt.Errorf("projections: replay: read %s: %w", k, err)
	}
	if cur := items[k]; cur != nil && cur["version"] == put.Item["version"] {
		put.Guard = Equal(attrStartedKey, cur[attrStartedKey])
	}
	if err := r.store.Write(ctx, []Put{put}, nil); err != nil && !errors.Is(err, ErrConditionFailed) {
		return fmt.Errorf("projections: replay: write %s: %w", k, err)
	}
	return nil
}

// ownedRows returns the keys of the rows stored for a stream, shared rows excepted.
func (r *Replayer) ownedRows(ctx context.Context, p *projection, gen int64, parts []string) ([]Key, error) {
	var gets []Key
	var queries []Query
	t := func(name string) Table { return Table{Name: name, Generation: gen} }
	switch p.kind {
	case domain.KindRepo:
		gets = []Key{repoRef(parts[0], parts[1]).key(gen)}
		queries = []Query{{Table: t(TableBuilds), Partition: parts[0] + "/" + parts[1]}}
	case domain.KindStatus:
		gets = []Key{statusRef(parts[0], parts[1], parts[2]).key(gen), counterRef(parts[0], parts[1], parts[2]).key(gen)}
		queries = []Query{{Table: t(TableStatusEvents), Partition: pkgEnvVersionKey(parts[0], parts[1], parts[2])}}
	case domain.KindLock:
		queries = []Query{{Table: t(TableLocks), Partition: parts[0]}}
	case domain.KindJob:
		queries = []Query{{Table: t(TableJobs), Partition: parts[0], Filter: map[string]any{"version": parts[1]}}}
	}
	var keys []Key
	if len(gets) > 0 {
		items, err := r.store.Get(ctx, gets)
		if err != nil {
			return nil, fmt.Errorf("projections: replay: read rows: %w", err)
		}
		for _, k := range gets {
			if items[k] != nil {
				keys = append(keys, k)
			}
		}
	}
	for _, q := range queries {
		items, err := r.store.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("projections: replay: query rows: %w", err)
		}
		for _, it := range items {
			k, err := KeyOf(q.Table, it)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// forEach runs fn for every item with at most n at a time, and returns the first error.
func forEach[T any](ctx context.Context, n int, items []T, fn func(ctx context.Context, item T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, it); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
