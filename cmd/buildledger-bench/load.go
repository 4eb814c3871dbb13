package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/eventstore/dynamo"
	"buildledger/handlers"
	"buildledger/snapshots"
	snapdynamo "buildledger/snapshots/dynamo"
)

// loadGoal bounds the load of the longest stream, with snapshots, as a multiple of the load
// of the shortest.
const loadGoal = 2.0

// loadFixture is one lock stream of the load figure and what is stored about it.
type loadFixture struct {
	length int
	stream string
	// tail is how many events follow the lagging snapshot (the whole stream without one).
	tail int
}

// measureLoad writes one deploy-lock stream (Lock and Release alternating) of each length,
// with a snapshot every SnapshotEvery events, and times loading its aggregate three ways:
//
//   - lagging snapshot: the snapshot store holds the previous snapshot, taken at the last
//     multiple of SnapshotEvery strictly below the length, so the tail is as long as the
//     policy allows (the worst case, and the figure reported);
//   - fresh snapshot: the snapshot at the stream's last multiple of SnapshotEvery (tail 0
//     for the round lengths used here: the best case);
//   - no snapshot: load every event and rehydrate.
//
// Each load takes the same steps as the command handler's: fetch the snapshot, restore it,
// load the events after it, decode and apply them.
func measureLoad(ctx context.Context, e *environment) ([]Figure, error) {
	events, commands, err := e.eventTables(ctx, "load")
	if err != nil {
		return nil, err
	}
	freshTable, lagTable := e.name("load-snapshots"), e.name("load-snapshots-lag")
	e.track(freshTable, lagTable)
	defer e.dropTables(context.WithoutCancel(ctx), events, commands, freshTable, lagTable)
	st, fresh, lag, err := openLoadStores(ctx, e, events, commands, freshTable, lagTable)
	if err != nil {
		return nil, err
	}
	fixtures, err := writeLockStreams(ctx, e, st, fresh, lag)
	if err != nil {
		return nil, err
	}
	methods, err := loadMethods(st, fresh, lag)
	if err != nil {
		return nil, err
	}
	times, err := timeLoads(ctx, e, events, fixtures, methods)
	if err != nil {
		return nil, err
	}
	return loadFigures(e.cfg, fixtures, times), nil
}

// openLoadStores creates the two snapshot tables and opens the event store and both
// snapshot stores of the load figure.
func openLoadStores(ctx context.Context, e *environment, events, commands, freshTable, lagTable string) (st *dynamo.Store, fresh, lag *snapdynamo.Store, err error) {
	for _, t := range []string{freshTable, lagTable} {
		if _, err := snapdynamo.CreateTable(ctx, e.db, t); err != nil {
			return nil, nil, nil, err
		}
	}
	if st, err = dynamo.New(dynamo.Config{Client: e.db, EventsTable: events, CommandsTable: commands}); err != nil {
		return nil, nil, nil, err
	}
	if fresh, err = snapdynamo.New(snapdynamo.Config{Client: e.db, Table: freshTable}); err != nil {
		return nil, nil, nil, err
	}
	if lag, err = snapdynamo.New(snapdynamo.Config{Client: e.db, Table: lagTable}); err != nil {
		return nil, nil, nil, err
	}
	return st, fresh, lag, nil
}

// writeLockStreams writes one lock stream of each distinct length of the configuration, all
// at once, and returns them shortest first.
func writeLockStreams(ctx context.Context, e *environment, st eventstore.Store, fresh, lag snapshots.Store) ([]loadFixture, error) {
	lengths := slices.Clone(e.cfg.LoadLengths)
	slices.Sort(lengths)
	lengths = slices.Compact(lengths)
	fixtures := make([]loadFixture, len(lengths))
	var wg sync.WaitGroup
	errs := make([]error, len(lengths))
	for i, l := range lengths {
		wg.Go(func() {
			fixtures[i], errs[i] = writeLockStream(ctx, st, fresh, lag, l, e.cfg.SnapshotEvery)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	e.logf("load: wrote streams of %v events", lengths)
	return fixtures, nil
}

// loadMethod is one way of loading an aggregate: with the lagging snapshot, the fresh one,
// or none.
type loadMethod struct {
	name string
	repo *handlers.Aggregates
}

// loadMethods builds the worker's own aggregate repository, without its cache, over each
// snapshot store: every load reads the snapshot (if any) and the events after it, as a
// command on a cold stream does.
func loadMethods(st eventstore.Store, fresh, lag snapshots.Store) ([]loadMethod, error) {
	methods := []loadMethod{{name: "lagging"}, {name: "fresh"}, {name: "full"}}
	for i, snaps := range []snapshots.Store{lag, fresh, nil} {
		repo, err := handlers.NewAggregates(st, snaps)
		if err != nil {
			return nil, err
		}
		methods[i].repo = repo
	}
	return methods, nil
}

// loadTimes are the timed loads of the load figure, in ms.
type loadTimes struct {
	// byMethod holds, by method name and then stream length, the aggregate loads.
	byMethod map[string]map[int][]float64
	// rawQuery holds, by stream length, the plain Queries of every item.
	rawQuery map[int][]float64
}

// timeLoads loads every fixture with every method, and queries it plainly, LoadRepeats
// times after two untimed warm-ups. Lengths and methods are interleaved so that a machine
// growing slower or faster during the run affects each alike.
func timeLoads(ctx context.Context, e *environment, events string, fixtures []loadFixture, methods []loadMethod) (loadTimes, error) {
	t := loadTimes{byMethod: map[string]map[int][]float64{}, rawQuery: map[int][]float64{}}
	for _, m := range methods {
		t.byMethod[m.name] = map[int][]float64{}
	}
	for rep := -2; rep < e.cfg.LoadRepeats; rep++ {
		for _, f := range fixtures {
			for _, m := range methods {
				took, err := m.time(ctx, f)
				if err != nil {
					return loadTimes{}, err
				}
				if rep >= 0 {
					t.byMethod[m.name][f.length] = append(t.byMethod[m.name][f.length], took)
				}
			}
			start := time.Now()
			if err := queryAll(ctx, e.db, events, f.stream); err != nil {
				return loadTimes{}, err
			}
			if rep >= 0 {
				t.rawQuery[f.length] = append(t.rawQuery[f.length], ms(time.Since(start)))
			}
		}
	}
	return t, nil
}

// time loads f's aggregate with m, checks that it reached the stream's end, and returns how
// long the load took in ms.
func (m loadMethod) time(ctx context.Context, f loadFixture) (float64, error) {
	start := time.Now()
	agg, err := m.repo.Load(ctx, f.stream)
	took := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("%s load of %s: %w", m.name, f.stream, err)
	}
	if agg.Version() != int64(f.length) {
		return 0, fmt.Errorf("%s load of %s: version %d, want %d", m.name, f.stream, agg.Version(), f.length)
	}
	return ms(took), nil
}

// loadFigures reports one figure per stream length, and with more than one length how the
// longest stream's load with snapshots compares with the shortest's.
func loadFigures(cfg Config, fixtures []loadFixture, t loadTimes) []Figure {
	var figs []Figure
	for _, f := range fixtures {
		figs = append(figs, lengthFigure(cfg, f, t))
	}
	if len(fixtures) > 1 {
		figs = append(figs, snapshotScalingFigure(cfg, fixtures[0], fixtures[len(fixtures)-1], t))
	}
	return figs
}

// lengthFigure compares, for one stream, the load with the lagging snapshot with the load
// of every event.
func lengthFigure(cfg Config, f loadFixture, t loadTimes) Figure {
	lag, fresh, full := t.byMethod["lagging"][f.length], t.byMethod["fresh"][f.length], t.byMethod["full"][f.length]
	lagMs, freshMs, fullMs, queryMs := median(lag), median(fresh), median(full), median(t.rawQuery[f.length])
	fig := newFigure(fmt.Sprintf("Aggregate load, %s events", thousands(int64(f.length))), "ms", lagMs, fullMs, 0, true)
	fig.Notes = fmt.Sprintf("ours: snapshot + %d-event tail + restore; raw: load all + rehydrate; fresh snapshot (no tail) %s ms; plain Query of all items %s ms",
		f.tail, formatValue(freshMs, ""), formatValue(queryMs, ""))
	if f.tail == f.length {
		fig.Notes = fmt.Sprintf("no snapshot below %d events: ours fetches none, then both load all + rehydrate; plain Query of all items %s ms",
			cfg.SnapshotEvery, formatValue(queryMs, ""))
	}
	fig.Extra = map[string]float64{
		"events":                 float64(f.length),
		"tail_events":            float64(f.tail),
		"lagging_snapshot_ms":    lagMs,
		"lagging_snapshot_p95ms": percentile(lag, 95),
		"fresh_snapshot_ms":      freshMs,
		"no_snapshot_ms":         fullMs,
		"no_snapshot_p95ms":      percentile(full, 95),
		"raw_query_all_ms":       queryMs,
	}
	return fig
}

// snapshotScalingFigure compares the load of the long stream with the short one's, both
// with lagging snapshots: with snapshots, a load should cost about the same at any length.
func snapshotScalingFigure(cfg Config, short, long loadFixture, t loadTimes) Figure {
	lagging := t.byMethod["lagging"]
	longMs, shortMs := median(lagging[long.length]), median(lagging[short.length])
	fig := newFigure(fmt.Sprintf("Aggregate load with snapshots, %s vs %s events", thousands(int64(long.length)), thousands(int64(short.length))),
		"ms", longMs, shortMs, loadGoal, true)
	fig.Notes = fmt.Sprintf("snapshot every %d events, worst-case tail (%d events) on the long stream; median of %d loads",
		cfg.SnapshotEvery, long.tail, cfg.LoadRepeats)
	fig.Extra = map[string]float64{
		"fresh_snapshot_ratio": median(t.byMethod["fresh"][long.length]) / shortMs,
	}
	return fig
}

// writeLockStream appends length events (Lock, Release, Lock, …) to a new lock stream, 99 per
// Append, and stores two snapshots: in fresh the one at the last multiple of every, in lag
// the one before it.
func writeLockStream(ctx context.Context, st eventstore.Store, fresh, lag snapshots.Store, length, every int) (loadFixture, error) {
	lockEnv := fmt.Sprintf("bench-%d-%s", length, uuid.NewString()[:8])
	stream := domain.LockStreamID(lockEnv)
	f := loadFixture{length: length, stream: stream, tail: length}
	agg, err := domain.NewAggregate(stream)
	if err != nil {
		return f, err
	}
	start := time.Now()
	env := domain.Env{NewID: uuid.New, NewTimeID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }}
	var taken []snapshots.Snapshot
	var batch []eventstore.Event
	written := int64(0)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := st.Append(ctx, stream, written, batch, eventstore.CommandRef{ID: uuid.NewString(), Type: "Lock"})
		written += int64(len(batch))
		batch = batch[:0]
		return err
	}
	for i := range length {
		env.Now = start.Add(time.Duration(i) * time.Millisecond)
		var cmd domain.Command = domain.Lock{Env: lockEnv, User: "bench", Meta: "https://ci.example/build/" + strconv.Itoa(i)}
		if i%2 == 1 {
			cmd = domain.Release{Env: lockEnv, User: "bench"}
		}
		evs, err := agg.Handle(cmd, env)
		if err != nil {
			return f, fmt.Errorf("decide event %d of %s: %w", i+1, stream, err)
		}
		for _, ev := range evs {
			typ, body, err := domain.EncodeEvent(ev)
			if err != nil {
				return f, err
			}
			agg.Apply(ev)
			batch = append(batch, eventstore.Event{Type: typ, Body: body})
		}
		if agg.Version()%int64(every) == 0 {
			state, err := agg.MarshalState()
			if err != nil {
				return f, err
			}
			taken = append(taken, snapshots.Snapshot{AggregateID: stream, Version: agg.Version(), Schema: agg.SnapshotSchema(), State: state})
		}
		if len(batch) == eventstore.MaxEventsPerAppend {
			if err := flush(); err != nil {
				return f, err
			}
		}
	}
	if err := flush(); err != nil {
		return f, err
	}
	// The lagging snapshot is the last one strictly below the stream's version.
	var below []snapshots.Snapshot
	for _, s := range taken {
		if s.Version < int64(length) {
			below = append(below, s)
		}
	}
	if len(taken) > 0 {
		if err := fresh.Store(ctx, taken[len(taken)-1]); err != nil {
			return f, err
		}
	}
	if len(below) > 0 {
		last := below[len(below)-1]
		if err := lag.Store(ctx, last); err != nil {
			return f, err
		}
		f.tail = length - int(last.Version)
	}
	return f, nil
}

// queryAll reads every item of a stream with consistent Query pages and decodes nothing:
// the floor under any full load.
func queryAll(ctx context.Context, db *dynamodb.Client, table, stream string) error {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String("#stream = :stream"),
		ExpressionAttributeNames:  map[string]string{"#stream": "stream"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":stream": s(stream)},
	}
	for {
		out, err := db.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("query %s: %w", stream, err)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
