package projections_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/projections"
	"buildledger/projections/memory"
	"buildledger/projections/projectionstest"
)

// countingWrites also counts the writes of a read-model store.
type countingWrites struct {
	*countingStore
	writes atomic.Int64
}

func (s *countingWrites) Write(ctx context.Context, puts []projections.Put, deletes []projections.Key) error {
	s.writes.Add(1)
	return s.countingStore.Write(ctx, puts, deletes)
}

// commandsOf runs each command through the domain into a fresh event store and returns the
// records of each command.
func commandsOf(t *testing.T, cmds ...domain.Command) (*esmemory.Store, [][]eventstore.Record) {
	t.Helper()
	es := esmemory.New()
	w := projectionstest.NewWriter(es, 1, start)
	var out [][]eventstore.Record
	for _, c := range cmds {
		recs, err := w.Do(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandType(), err)
		}
		out = append(out, recs)
	}
	return es, out
}

func TestProjector_Prepare(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cmds []domain.Command
		// multi: a command after the first has several events.
		multi bool
	}{
		{
			name:  "given a projector that wrote a repo's last event, when the next commands' events are prepared and committed, then the read model equals a replay",
			cmds:  buildCmds(),
			multi: true, // the last browser finishing completes the build
		},
		{
			name: "given a status whose last locale completes it, when its two events are prepared together, then each row is written once with its last state",
			cmds: []domain.Command{
				domain.StartStatus{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locales: []string{"en", "fr"}},
				domain.RecordStatusEvent{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locale: "en", Message: "built"},
				domain.CompleteLocale{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locale: "en"},
				domain.CompleteLocale{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locale: "fr"},
			},
			multi: true,
		},
		{
			name: "given a lock with a waiter, when the release hands it on, then both events are prepared and committed together",
			cmds: []domain.Command{
				domain.Lock{Env: "prod", User: "alice"},
				domain.Lock{Env: "prod", User: "bob", Queue: true},
				domain.Release{Env: "prod", User: "alice"},
			},
			multi: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, byCmd := commandsOf(t, tt.cmds...)
			st := &countingWrites{countingStore: &countingStore{Store: memory.New()}}
			p, err := projections.NewProjector(projections.ProjectorConfig{Store: st, Events: es})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range byCmd[0] {
				if err := p.Apply(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			multi := false
			for _, recs := range byCmd[1:] {
				pr, err := p.Prepare(ctx, recs)
				if err != nil || pr == nil {
					t.Fatalf("Prepare %s@%d: %v, %v; want writes", recs[0].Stream, recs[0].Version, pr, err)
				}
				// The caller's transaction: here the store's own.
				err = st.Write(ctx, pr.Puts, nil)
				pr.Done(err == nil)
				if err != nil {
					t.Fatalf("commit prepared writes: %v", err)
				}
				seen := map[projections.Key]bool{}
				for _, put := range pr.Puts {
					k, err := projections.KeyOf(put.Table, put.Item)
					if err != nil || seen[k] {
						t.Fatalf("prepared writes: %v written twice (%v)", k, err)
					}
					seen[k] = true
				}
				multi = multi || len(recs) > 1
			}
			if multi != tt.multi {
				t.Fatalf("a command of several events: %v, want %v", multi, tt.multi)
			}
			projectionstest.SameAsReplay(t, st, es)
			// The events then reach the projector, which has nothing left to do.
			gets, writes := st.gets.Load(), st.writes.Load()
			for _, recs := range byCmd[1:] {
				for _, r := range recs {
					if err := p.Apply(ctx, r); err != nil {
						t.Fatal(err)
					}
				}
			}
			if st.gets.Load() != gets || st.writes.Load() != writes {
				t.Errorf("applying prepared events read %d and wrote %d times, want none", st.gets.Load()-gets, st.writes.Load()-writes)
			}
			projectionstest.SameAsReplay(t, st, es)
		})
	}
}

func TestProjector_Prepare_given_nothing_to_go_on_then_nothing_is_prepared(t *testing.T) {
	ctx := context.Background()
	es, byCmd := commandsOf(t, domain.Lock{Env: "prod", User: "alice"}, domain.Release{Env: "prod", User: "alice"}, domain.Lock{Env: "prod", User: "bob"})
	st := memory.New()
	p, err := projections.NewProjector(projections.ProjectorConfig{Store: st, Events: es})
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := p.Prepare(ctx, byCmd[0]); pr != nil || err != nil {
		t.Errorf("a stream the projector never wrote: %v, %v; want nothing", pr, err)
	}
	if err := p.Apply(ctx, byCmd[0][0]); err != nil {
		t.Fatal(err)
	}
	if pr, err := p.Prepare(ctx, byCmd[2]); pr != nil || err != nil {
		t.Errorf("events after a gap: %v, %v; want nothing", pr, err)
	}
	uncached, err := projections.NewProjector(projections.ProjectorConfig{Store: st, Events: es, RowCacheStreams: -1})
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := uncached.Prepare(ctx, byCmd[1]); pr != nil || err != nil {
		t.Errorf("a projector that keeps nothing: %v, %v; want nothing", pr, err)
	}
	// Writes prepared but not committed: the projector forgets the stream.
	pr, err := p.Prepare(ctx, byCmd[1])
	if err != nil || pr == nil {
		t.Fatalf("Prepare: %v, %v", pr, err)
	}
	pr.Done(false)
	if pr, err := p.Prepare(ctx, byCmd[1]); pr != nil || err != nil {
		t.Errorf("after an uncommitted prepare: %v, %v; want nothing", pr, err)
	}
}

func TestProjector_Prepare_given_another_writer_moved_the_stream_on_then_the_prepared_writes_fail_their_guard(t *testing.T) {
	ctx := context.Background()
	es, byCmd := commandsOf(t, domain.Lock{Env: "prod", User: "alice"}, domain.Release{Env: "prod", User: "alice"})
	st := memory.New()
	p, err := projections.NewProjector(projections.ProjectorConfig{Store: st, Events: es})
	if err != nil {
		t.Fatal(err)
	}
	other, err := projections.NewProjector(projections.ProjectorConfig{Store: st, Events: es})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(ctx, byCmd[0][0]); err != nil {
		t.Fatal(err)
	}
	pr, err := p.Prepare(ctx, byCmd[1])
	if err != nil || pr == nil {
		t.Fatalf("Prepare: %v, %v", pr, err)
	}
	if err := other.Apply(ctx, byCmd[1][0]); err != nil {
		t.Fatal(err)
	}
	err = st.Write(ctx, pr.Puts, nil)
	pr.Done(err == nil)
	if !errors.Is(err, projections.ErrConditionFailed) {
		t.Fatalf("commit after another writer: %v, want ErrConditionFailed", err)
	}
	projectionstest.SameAsReplay(t, st, es)
}
