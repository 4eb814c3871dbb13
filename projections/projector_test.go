package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/projections"
	"buildledger/projections/memory"
	"buildledger/projections/projectionstest"
)

var start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	ctx context.Context
	es  *esmemory.Store
	st  *memory.Store
	w   *projectionstest.Writer
	p   *projections.Projector
	q   *projections.Queries
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), es: esmemory.New(), st: memory.New()}
	f.w = projectionstest.NewWriter(f.es, 1, start)
	var err error
	if f.p, err = projections.NewProjector(projections.ProjectorConfig{Store: f.st, Events: f.es}); err != nil {
		t.Fatal(err)
	}
	f.q = projections.NewQueries(f.st)
	return f
}

// do runs commands and returns their records without applying them.
func (f *fixture) do(t *testing.T, cmds ...domain.Command) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	for _, c := range cmds {
		recs, err := f.w.Do(f.ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandType(), err)
		}
		out = append(out, recs...)
	}
	return out
}

func (f *fixture) apply(t *testing.T, recs ...eventstore.Record) {
	t.Helper()
	for _, r := range recs {
		if err := f.p.Apply(f.ctx, r); err != nil {
			t.Fatalf("Apply %s@%d: %v", r.Stream, r.Version, err)
		}
	}
}

func (f *fixture) position(t *testing.T, stream string) int64 {
	t.Helper()
	pos, err := f.p.Position(f.ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

func buildCmds() []domain.Command {
	return []domain.Command{
		domain.CreateBuild{User: "api", Repo: "foo", Tag: "master", Browsers: []string{"BrowserA", "BrowserB"}},
		domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserA", Status: "finished", Finished: true},
		domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserB", Status: "finished", Finished: true},
	}
}

func TestProjector_Apply(t *testing.T) {
	t.Run("given applied events when applied again or an older one arrives then nothing changes", func(t *testing.T) {
		f := newFixture(t)
		recs := f.do(t, buildCmds()...) // 4 events: created, updated, updated, completed
		f.apply(t, recs...)
		before, _ := projections.Dump(f.ctx, f.st)
		f.apply(t, recs[3], recs[0], recs[2])
		after, _ := projections.Dump(f.ctx, f.st)
		if d := projectionstest.Diff(after, before); d != "" {
			t.Errorf("duplicates changed rows:\n%s", d)
		}
		if pos := f.position(t, "repo:api/foo"); pos != 4 {
			t.Errorf("position = %d, want 4", pos)
		}
	})

	t.Run("given an event after a gap when applied then the gap is filled from the event store first", func(t *testing.T) {
		f := newFixture(t)
		recs := f.do(t, buildCmds()...)
		f.apply(t, recs[3])
		repo, err := f.q.Repo(f.ctx, "api", "foo")
		if err != nil || repo.LatestBuild == nil || *repo.LatestBuild != "1" || repo.CurrentBuildInProgress != nil || repo.StreamVersion != 4 {
			t.Errorf("repo = %+v, %v", repo, err)
		}
		b, err := f.q.Build(f.ctx, "api", "foo", 1)
		if err != nil || b.Pending != 0 || b.StreamVersion != 3 {
			t.Errorf("build = %+v, %v", b, err)
		}
		ref, _ := projectionstest.Reference(f.ctx, f.es)
		got, _ := projections.Dump(f.ctx, f.st)
		if d := projectionstest.Diff(got, ref); d != "" {
			t.Errorf("gap-filled model differs from the reference:\n%s", d)
		}
	})

	t.Run("given an event beyond the stream's end when applied then an error and nothing applied", func(t *testing.T) {
		f := newFixture(t)
		recs := f.do(t, buildCmds()[0])
		late := recs[0]
		late.Version = 9
		if err := f.p.Apply(f.ctx, late); err == nil {
			t.Fatal("Apply of a version the store lacks: nil error")
		}
		if pos := f.position(t, "repo:api/foo"); pos != 1 {
			t.Errorf("position = %d, want 1 (the gap that exists is filled)", pos)
		}
	})

	t.Run("given non-domain streams and unknown event types then they are skipped and positions still advance", func(t *testing.T) {
		f := newFixture(t)
		key, err := f.es.Put(f.ctx, json.RawMessage(`{"hello":"world"}`))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := f.es.ReadAll(f.ctx, "", 10)
		f.apply(t, page.Records...)
		if _, err := f.p.Position(f.ctx, eventstore.PutStreamPrefix+key); !errors.Is(err, projections.ErrInvalidQuery) {
			t.Errorf("Position of a Put stream: %v, want ErrInvalidQuery", err)
		}
		recs, err := f.es.Append(f.ctx, "lock:PROD", 0, []eventstore.Event{{Type: "LockInspected", Body: json.RawMessage(`{}`)}}, eventstore.CommandRef{ID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		f.apply(t, recs...)
		if pos := f.position(t, "lock:PROD"); pos != 1 {
			t.Errorf("position after an unknown event type = %d, want 1", pos)
		}
		if locks, err := f.q.Locks(f.ctx, "PROD"); err != nil || len(locks) != 0 {
			t.Errorf("locks = %v, %v; want none", locks, err)
		}
		if err := f.p.Apply(f.ctx, eventstore.Record{Stream: "lock:PROD", Version: 0}); err == nil {
			t.Error("Apply of version 0: nil error")
		}
	})

	t.Run("given 3 goroutines applying the same events concurrently then the rows equal the reference", func(t *testing.T) {
		projectionstest.RunConcurrentApply(t, projectionstest.Backend{Store: memory.New(), Events: esmemory.New()}, 600)
	})

	t.Run("given a stream being rebuilt when an event arrives then ErrStreamRebuilding and Position shows the position before", func(t *testing.T) {
		f := newFixture(t)
		recs := f.do(t, buildCmds()...)
		f.apply(t, recs[:2]...)
		fence := projections.Put{
			Table: projections.Table{Name: projections.TablePositions},
			Item:  projections.Item{"stream": "repo:api/foo", "version": -1, "before": 2},
		}
		if err := f.st.Write(f.ctx, []projections.Put{fence}, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.p.Apply(f.ctx, recs[2]); !errors.Is(err, projections.ErrStreamRebuilding) {
			t.Errorf("Apply on a fenced stream: %v, want ErrStreamRebuilding", err)
		}
		if pos := f.position(t, "repo:api/foo"); pos != 2 {
			t.Errorf("Position of a fenced stream = %d, want 2", pos)
		}
	})

	t.Run("given a projector pointed at a dropped generation when it applies then it follows the pointer", func(t *testing.T) {
		f := newFixture(t)
		frozen := func() time.Time { return start } // the pointer cache never expires by itself
		p, err := projections.NewProjector(projections.ProjectorConfig{Store: f.st, Events: f.es, Now: frozen})
		if err != nil {
			t.Fatal(err)
		}
		recs := f.do(t, buildCmds()...)
		if err := p.Apply(f.ctx, recs[0]); err != nil {
			t.Fatal(err)
		}
		r, err := projections.NewReplayer(projections.ReplayerConfig{Store: f.st, Events: f.es})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Replay(f.ctx, projections.ReplayScope{Projection: projections.ProjectionBuilds})
		if err != nil || len(res.Dropped) == 0 {
			t.Fatalf("Replay: %+v, %v; want the old generation dropped", res, err)
		}
		for _, rec := range recs[1:] {
			if err := p.Apply(f.ctx, rec); err != nil {
				t.Fatalf("Apply after the switch: %v", err)
			}
		}
		if b, err := f.q.Build(f.ctx, "api", "foo", 1); err != nil || b.Pending != 0 {
			t.Errorf("build after the switch = %+v, %v", b, err)
		}
	})
}

func TestNewProjector_Validate(t *testing.T) {
	_, err := projections.NewProjector(projections.ProjectorConfig{MaxAttempts: -1})
	for _, want := range []string{"Store is nil", "Events is nil", "MaxAttempts -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("given an empty config then the error mentions %q: %v", want, err)
		}
	}
}
