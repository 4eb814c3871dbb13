package projectionstest

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/projections"
	"buildledger/projections/memory"
)

// Backend is what the replay scenarios run on.
type Backend struct {
	// Store is an empty read store no other test uses; the scenarios run projections.Init.
	Store projections.Store
	// Events is an empty event store no other test uses.
	Events eventstore.Store
	// Scanner, when set, is the replay's parallel scan of Events.
	Scanner projections.EventScanner
}

// ApplyAll delivers every event of es to p, the streams spread over workers goroutines
// (each stream's events in order, as a FIFO queue per stream would), every tenth event
// twice, as redelivery does.
func ApplyAll(ctx context.Context, es eventstore.Store, p *projections.Projector, workers int) error {
	seed := maphash.MakeSeed()
	inputs := make([]chan eventstore.Record, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range inputs {
		inputs[i] = make(chan eventstore.Record, 64)
		wg.Go(func() {
			for rec := range inputs[i] {
				if errs[i] != nil {
					continue
				}
				errs[i] = p.Apply(ctx, rec)
				if errs[i] == nil && rec.Version%10 == 0 {
					errs[i] = p.Apply(ctx, rec)
				}
			}
		})
	}
	var readErr error
	for after := ""; ; {
		page, err := es.ReadAll(ctx, after, 500)
		if err != nil {
			readErr = err
			break
		}
		for _, rec := range page.Records {
			inputs[maphash.String(seed, rec.Stream)%uint64(workers)] <- rec
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	for _, in := range inputs {
		close(in)
	}
	wg.Wait()
	return errors.Join(append(errs, readErr)...)
}

// Reference returns the read model of every event of es, applied in time order to a fresh
// in-memory store: what any correct live or replayed model must equal.
func Reference(ctx context.Context, es eventstore.Store) (map[string][]projections.Item, error) {
	st := memory.New()
	p, err := projections.NewProjector(projections.ProjectorConfig{Store: st, Events: es})
	if err != nil {
		return nil, err
	}
	if err := ApplyAll(ctx, es, p, 4); err != nil {
		return nil, err
	}
	return projections.Dump(ctx, st)
}

// SameAsReplay fails the test unless st holds exactly the rows a full replay of es gives
// (Reference).
func SameAsReplay(t testing.TB, st projections.Store, es eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	want, err := Reference(ctx, es)
	if err != nil {
		t.Fatal(err)
	}
	got, err := projections.Dump(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(got, want); d != "" {
		t.Fatalf("read model differs from a replay:\n%s", d)
	}
}

// Diff describes how two dumps differ, "" when they are equal item for item.
func Diff(got, want map[string][]projections.Item) string {
	var b strings.Builder
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		g, w := got[name], want[name]
		if reflect.DeepEqual(g, w) {
			continue
		}
		fmt.Fprintf(&b, "table %s: %d items, want %d\n", name, len(g), len(w))
		shown := 0
		for i := 0; i < max(len(g), len(w)) && shown < 3; i++ {
			var gi, wi projections.Item
			if i < len(g) {
				gi = g[i]
			}
			if i < len(w) {
				wi = w[i]
			}
			if !reflect.DeepEqual(gi, wi) {
				fmt.Fprintf(&b, "  #%d\n    got  %v\n    want %v\n", i, gi, wi)
				shown++
			}
		}
	}
	return b.String()
}

func dump(t *testing.T, st projections.Store) map[string][]projections.Item {
	t.Helper()
	d, err := projections.Dump(context.Background(), st)
	if err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return d
}

func sameAs(t *testing.T, st projections.Store, want map[string][]projections.Item, when string) {
	t.Helper()
	if d := Diff(dump(t, st), want); d != "" {
		t.Fatalf("%s: the read model differs from the live one:\n%s", when, d)
	}
}

// onlyReferenced fails unless every table of the store is one the readers use: no old
// generation, no leftover of an interrupted replay.
func onlyReferenced(t *testing.T, st projections.Store, gens map[string]int64) {
	t.Helper()
	tables, err := st.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	used := map[int64]bool{}
	for _, g := range gens {
		used[g] = true
	}
	owner := map[string]string{}
	for _, s := range projections.Schemas() {
		owner[s.Name] = s.Projection
	}
	for _, tb := range tables {
		switch tb.Name {
		case projections.TableReadModel:
		case projections.TablePositions:
			if !used[tb.Generation] {
				t.Errorf("leftover table %s", tb)
			}
		default:
			if gens[owner[tb.Name]] != tb.Generation {
				t.Errorf("leftover table %s (projection %s is at generation %d)", tb, owner[tb.Name], gens[owner[tb.Name]])
			}
		}
	}
}

func replayer(t *testing.T, b Backend, progress func(done, total int64, rate float64)) *projections.Replayer {
	t.Helper()
	r, err := projections.NewReplayer(projections.ReplayerConfig{
		Store: b.Store, Events: b.Events, Scanner: b.Scanner,
		Segments: 4, Workers: 4, PageSize: 250, CatchUpMargin: 5 * time.Second,
		Progress: progress, ProgressInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// RunReplay appends a workload of at least events events, applies it live, then checks
// that a full replay, a single-projection replay, single-stream replays (after corrupting
// rows) and a replay interrupted midway and run again each leave read tables equal, item
// for item, to the live ones. The steps run in order on one backend.
func RunReplay(t *testing.T, b Backend, events int) {
	ctx := context.Background()
	live, n := liveModel(t, b, events)

	gens := map[string]int64{}
	for _, name := range projections.ProjectionNames() {
		gens[name] = 0
	}

	t.Run("given the live model when fully replayed then every table equals it item for item", func(t *testing.T) {
		var calls, last int64
		res, err := replayer(t, b, func(done, total int64, rate float64) {
			calls++
			if done < last || rate < 0 {
				t.Errorf("progress went back: %d after %d, rate %f", done, last, rate)
			}
			last = done
		}).Replay(ctx, projections.ReplayScope{})
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if res.Events < int64(n) || res.Generation < 1 || calls == 0 {
			t.Errorf("result %+v after %d progress calls; want at least %d events", res, calls, n)
		}
		sameAs(t, b.Store, live, "after a full replay")
		for name := range gens {
			gens[name] = res.Generation
		}
		onlyReferenced(t, b.Store, gens)
	})

	t.Run("given the live model when one projection is replayed then it equals it and the others keep their tables", func(t *testing.T) {
		res, err := replayer(t, b, nil).Replay(ctx, projections.ReplayScope{Projection: projections.ProjectionStatuses})
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		sameAs(t, b.Store, live, "after replaying statuses")
		gens[projections.ProjectionStatuses] = res.Generation
		onlyReferenced(t, b.Store, gens)
	})

	t.Run("given corrupted rows when their streams are replayed then they equal the live ones again", func(t *testing.T) {
		streams := corrupt(t, b.Store, live, gens)
		if Diff(dump(t, b.Store), live) == "" {
			t.Fatal("corrupting rows changed nothing")
		}
		for _, s := range streams {
			if _, err := replayer(t, b, nil).Replay(ctx, projections.ReplayScope{Stream: s}); err != nil {
				t.Fatalf("Replay %s: %v", s, err)
			}
		}
		sameAs(t, b.Store, live, "after replaying single streams")
	})

	t.Run("given a replay cancelled midway when run again then it removes the leftovers and equals the live model", func(t *testing.T) {
		testCancelledReplay(t, b, live, gens, n)
	})
}

// liveModel appends a workload of at least events events, applies it live and returns the
// read model, after checking it equals the reference, and the number of events.
func liveModel(t *testing.T, b Backend, events int) (map[string][]projections.Item, int) {
	t.Helper()
	ctx := context.Background()
	if _, err := projections.Init(ctx, b.Store); err != nil {
		t.Fatalf("Init: %v", err)
	}
	begin := time.Now()
	n, err := Workload(ctx, b.Events, WorkloadConfig{Events: events, Seed: 1, Writers: 8})
	if err != nil {
		t.Fatalf("Workload: %v", err)
	}
	appended := time.Since(begin)
	p, err := projections.NewProjector(projections.ProjectorConfig{Store: b.Store, Events: b.Events})
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyAll(ctx, b.Events, p, 16); err != nil {
		t.Fatalf("live apply: %v", err)
	}
	applied := time.Since(begin) - appended
	live := dump(t, b.Store)
	for name, items := range live {
		if len(items) == 0 {
			t.Fatalf("the workload of %d events left table %s empty", n, name)
		}
	}
	t.Logf("%d events appended in %s, applied live in %s; live model: %d repos, %d builds, %d statuses, %d status events, %d locks, %d jobs, %d positions",
		n, appended.Round(time.Millisecond), applied.Round(time.Millisecond), len(live["repos"]), len(live["builds"]), len(live["statuses"]), len(live["status_events"]), len(live["locks"]), len(live["jobs"]), len(live["positions"]))
	if ref, err := Reference(ctx, b.Events); err != nil || Diff(live, ref) != "" {
		t.Fatalf("the live model differs from the reference: %v\n%s", err, Diff(live, ref))
	}
	if missing, err := lockFeaturesMissing(ctx, b.Events); err != nil || len(missing) > 0 {
		t.Fatalf("the workload's lock streams show no %v (%v), so replays would not be checked on them", missing, err)
	}

	return live, n
}

// testCancelledReplay cancels a full replay a third of the way, then checks that the next
// one drops its leftovers and leaves the live model.
func testCancelledReplay(t *testing.T, b Backend, live map[string][]projections.Item, gens map[string]int64, n int) {
	ctx := context.Background()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := replayer(t, b, func(done, _ int64, _ float64) {
		if done >= int64(n)/3 {
			cancel()
		}
	}).Replay(cctx, projections.ReplayScope{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Replay: %v, want context.Canceled", err)
	}
	sameAs(t, b.Store, live, "while a cancelled replay's tables are left")
	tables, err := b.Store.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leftovers := 0
	for _, tb := range tables {
		if tb.Generation > slices.Max(mapsValues(gens)) {
			leftovers++
		}
	}
	if leftovers == 0 {
		t.Fatal("the cancelled replay left no partial tables: it was not cancelled midway")
	}
	res, err := replayer(t, b, nil).Replay(ctx, projections.ReplayScope{})
	if err != nil {
		t.Fatalf("Replay again: %v", err)
	}
	if len(res.Dropped) < leftovers {
		t.Errorf("dropped %v, want at least the %d leftovers", res.Dropped, leftovers)
	}
	sameAs(t, b.Store, live, "after the replay that followed a cancelled one")
	for name := range gens {
		gens[name] = res.Generation
	}
	onlyReferenced(t, b.Store, gens)
}

func mapsValues(m map[string]int64) []int64 {
	var out []int64
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// corrupt damages rows of four streams — a build row deleted, a status event too many, a
// lock and a job row changed, a status head pointed at an older version — and returns the
// streams whose replay must repair them.
func corrupt(t *testing.T, st projections.Store, live map[string][]projections.Item, gens map[string]int64) []string {
	t.Helper()
	ctx := context.Background()
	tb := func(name, proj string) projections.Table {
		return projections.Table{Name: name, Generation: gens[proj]}
	}
	build := live["builds"][0]
	ev := live["status_events"][0]
	lock := live["locks"][0]
	job := live["jobs"][0]
	head := live["status_heads"][0]

	bogus := ev.Clone()
	bogus["seq"] = int64(1 << 40)
	bogus["message"] = "never happened"
	changedLock := lock.Clone()
	changedLock["active"] = !lock["active"].(bool)
	changedJob := job.Clone()
	changedJob["user"] = "mallory"
	staleHead := head.Clone()
	staleHead["total"] = 12.5
	if err := st.WriteBatch(ctx, []projections.Put{
		{Table: tb(projections.TableStatusEvents, projections.ProjectionStatuses), Item: bogus},
		{Table: tb(projections.TableLocks, projections.ProjectionLocks), Item: changedLock},
		{Table: tb(projections.TableJobs, projections.ProjectionJobs), Item: changedJob},
		{Table: tb(projections.TableStatusHeads, projections.ProjectionStatuses), Item: staleHead},
	}, []projections.Key{
		{Table: tb(projections.TableBuilds, projections.ProjectionBuilds), Partition: build["repoID"].(string), Sort: build["buildID"]},
	}); err != nil {
		t.Fatal(err)
	}
	headStream := fmt.Sprintf("status:%s/%s/%s", head["pkg"], head["env"], head["version"])
	evStream := fmt.Sprintf("status:%s/%s/%s", ev["pkg"], ev["env"], ev["version"])
	streams := []string{
		"repo:" + build["repoID"].(string),
		evStream,
		"lock:" + lock["env"].(string),
		fmt.Sprintf("job:%s/%s", job["jobname"], job["version"]),
	}
	if headStream != evStream {
		streams = append(streams, headStream)
	}
	return streams
}
