package projections_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/projections"
	"buildledger/projections/memory"
	"buildledger/projections/projectionstest"
)

// countingStore counts the reads of a read-model store.
type countingStore struct {
	projections.Store
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, keys []projections.Key) (map[projections.Key]projections.Item, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, keys)
}

func newCountingProjector(t *testing.T, st projections.Store, es eventstore.Store, cacheStreams int) (*projections.Projector, *countingStore) {
	t.Helper()
	cs := &countingStore{Store: st}
	// A clock that stands still keeps the generation pointer cached: only rows are read.
	now := func() time.Time { return start }
	p, err := projections.NewProjector(projections.ProjectorConfig{Store: cs, Events: es, RowCacheStreams: cacheStreams, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return p, cs
}

// writeEvents runs commands through the domain into a fresh event store and returns all
// their records in order.
func writeEvents(t *testing.T, cmds ...domain.Command) (*esmemory.Store, []eventstore.Record) {
	t.Helper()
	es, byCmd := commandsOf(t, cmds...)
	var recs []eventstore.Record
	for _, r := range byCmd {
		recs = append(recs, r...)
	}
	return es, recs
}

func TestProjector_RowCache(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cmds []domain.Command
	}{
		{
			name: "given a projector that wrote a repo's last event, when the next ones come, then they are applied without a read",
			cmds: buildCmds(),
		},
		{
			name: "given a projector that wrote a lock's last event, when the next ones come, then they are applied without a read",
			cmds: []domain.Command{
				domain.Lock{Env: "prod", User: "alice"},
				domain.Lock{Env: "prod", User: "alice", Meta: "again"},
				domain.Release{Env: "prod", User: "alice"},
				domain.Lock{Env: "prod", User: "bob"},
			},
		},
		{
			name: "given a projector that wrote a job's start, when the run ends, then it is applied without a read",
			cmds: []domain.Command{
				domain.StartJob{Jobname: "migrate", User: "carol", Version: "abc"},
				domain.EndJob{Jobname: "migrate", Version: "abc"},
			},
		},
		{
			name: "given a status stream, when its next events come, then they are applied without a read, the shared head included",
			cmds: []domain.Command{
				domain.StartStatus{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locales: []string{"en", "fr"}},
				domain.CompleteLocale{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locale: "en"},
				domain.CompleteLocale{Pkg: "@scope/ui", Env: "prod", Version: "1.0.0", Locale: "fr"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, recs := writeEvents(t, tt.cmds...)
			st := memory.New()
			p, cs := newCountingProjector(t, st, es, 0)
			if err := p.Apply(ctx, recs[0]); err != nil {
				t.Fatal(err)
			}
			before := cs.gets.Load()
			for _, r := range recs[1:] {
				if err := p.Apply(ctx, r); err != nil {
					t.Fatalf("Apply %s@%d: %v", r.Stream, r.Version, err)
				}
			}
			if got := cs.gets.Load() - before; got != 0 {
				t.Errorf("reads after the first event = %d, want none", got)
			}
			projectionstest.SameAsReplay(t, st, es)

			// The same events without the cache read once per event and give the same rows.
			plain := memory.New()
			p, cs = newCountingProjector(t, plain, es, -1)
			for i, r := range recs {
				if i == 1 {
					before = cs.gets.Load()
				}
				if err := p.Apply(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if got := cs.gets.Load() - before; got != int64(len(recs)-1) {
				t.Errorf("reads after the first event without the cache = %d, want %d", got, len(recs)-1)
			}
			projectionstest.SameAsReplay(t, plain, es)
		})
	}
}

func TestProjector_RowCache_given_another_writer_moved_the_stream_on_then_the_cached_write_fails_its_guard_and_reads_again(t *testing.T) {
	ctx := context.Background()
	es, recs := writeEvents(t,
		domain.Lock{Env: "prod", User: "alice"},
		domain.Release{Env: "prod", User: "alice"},
		domain.Lock{Env: "prod", User: "bob"},
		domain.Release{Env: "prod", User: "bob"},
	)
	st := memory.New()
	first, firstReads := newCountingProjector(t, st, es, 0)
	second, _ := newCountingProjector(t, st, es, 0)
	apply := func(p *projections.Projector, r eventstore.Record) {
		t.Helper()
		if err := p.Apply(ctx, r); err != nil {
			t.Fatalf("Apply %s@%d: %v", r.Stream, r.Version, err)
		}
	}
	apply(first, recs[0])
	// Another process applies the next two events: first's entry is now stale.
	apply(second, recs[1])
	apply(second, recs[2])
	before := firstReads.gets.Load()
	// A redelivery of event 2 to first: its entry says it is next, the guarded write finds
	// the stream at 3, and a fresh read shows it applied.
	apply(first, recs[1])
	if got := firstReads.gets.Load() - before; got != 1 {
		t.Errorf("reads after the failed guarded write = %d, want 1", got)
	}
	apply(first, recs[3])
	projectionstest.SameAsReplay(t, st, es)
	pos, err := first.Position(ctx, recs[3].Stream)
	if err != nil {
		t.Fatal(err)
	}
	if pos != recs[3].Version {
		t.Errorf("position = %d, want %d", pos, recs[3].Version)
	}
}

func TestProjector_RowCache_given_a_newer_version_took_the_kept_head_then_the_guarded_head_write_fails_and_the_event_is_applied_afresh(t *testing.T) {
	ctx := context.Background()
	es, recs := writeEvents(t,
		domain.StartStatus{Pkg: "ui", Env: "prod", Version: "1.0.0", Locales: []string{"en", "fr"}},
		domain.StartStatus{Pkg: "ui", Env: "prod", Version: "1.1.0", Locales: []string{"en"}},
		domain.CompleteLocale{Pkg: "ui", Env: "prod", Version: "1.0.0", Locale: "en"},
	)
	st := memory.New()
	p, reads := newCountingProjector(t, st, es, 0)
	other, _ := newCountingProjector(t, st, es, 0)
	if err := p.Apply(ctx, recs[0]); err != nil { // 1.0.0 starts: p keeps the head at 1.0.0
		t.Fatal(err)
	}
	if err := other.Apply(ctx, recs[1]); err != nil { // 1.1.0 starts elsewhere and takes the head
		t.Fatal(err)
	}
	before := reads.gets.Load()
	// p's head says 1.0.0: it writes the head, its guard finds 1.1.0, and a fresh read
	// leaves the newer head alone.
	if err := p.Apply(ctx, recs[2]); err != nil {
		t.Fatal(err)
	}
	if got := reads.gets.Load() - before; got != 1 {
		t.Errorf("reads = %d, want 1 (after the failed guard)", got)
	}
	projectionstest.SameAsReplay(t, st, es)
	head, err := projections.NewQueries(st).StatusHead(ctx, "ui", "prod")
	if err != nil || head.Version != "1.1.0" {
		t.Fatalf("head = %+v, %v; want 1.1.0", head, err)
	}
}
