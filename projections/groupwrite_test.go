package projections

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// gatedStore is the part of a Store a groupWriter uses: Write, all or nothing with guards,
// held at the gate while the test lines writes up behind it.
type gatedStore struct {
	Store
	mu     sync.Mutex
	items  map[Key]Item
	writes [][]Put
	gate   chan struct{}
}

func newGatedStore() *gatedStore {
	return &gatedStore{items: make(map[Key]Item), gate: make(chan struct{})}
}

func (s *gatedStore) Write(ctx context.Context, puts []Put, deletes []Key) error {
	<-s.gate
	if err := CheckWrite(puts, deletes, false); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, puts)
	for _, p := range puts {
		k, _ := KeyOf(p.Table, p.Item)
		if !p.Guard.Holds(s.items[k]) {
			return ErrConditionFailed
		}
	}
	for _, p := range puts {
		k, _ := KeyOf(p.Table, p.Item)
		s.items[k] = p.Item
	}
	return nil
}

func (s *gatedStore) writeSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n []int
	for _, w := range s.writes {
		n = append(n, len(w))
	}
	return n
}

// waitFor polls cond until it holds; it fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func (g *groupWriter) waitingLen() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting)
}

// streamWrite is what an apply writes for one stream: a row and the stream's new position.
func streamWrite(stream string, pos int64, guard *Guard) []Put {
	return []Put{
		{Table: Table{Name: TableLocks}, Item: Item{"env": stream, "id": "l1", "user": "alice"}, Guard: guard},
		positionPut(0, stream, pos+1, pos),
	}
}

func TestGroupWriter(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// queued are the writes lined up behind the first while it is held.
		queued [][]Put
		// wantSizes are the item counts of the store's writes, in order.
		wantSizes []int
		// wantErr is what each queued write returns.
		wantErr []error
	}{
		{
			name:      "given the only slot busy, when three streams' writes arrive, then they go as one transaction",
			queued:    [][]Put{streamWrite("b", 0, nil), streamWrite("c", 0, nil), streamWrite("d", 0, nil)},
			wantSizes: []int{2, 6},
			wantErr:   []error{nil, nil, nil},
		},
		{
			name:      "given a group with a failing guard, then every member is written alone and only that one fails",
			queued:    [][]Put{streamWrite("b", 0, nil), streamWrite("c", 3, nil), streamWrite("d", 0, nil)},
			wantSizes: []int{2, 6, 2, 2, 2},
			wantErr:   []error{nil, ErrConditionFailed, nil},
		},
		{
			name:      "given two writes of the same item, then they go in different transactions",
			queued:    [][]Put{streamWrite("b", 0, nil), streamWrite("b", 1, nil), streamWrite("d", 0, nil)},
			wantSizes: []int{2, 4, 2},
			wantErr:   []error{nil, nil, nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newGatedStore()
			g := newGroupWriter(st, 1)
			first := make(chan error, 1)
			go func() { first <- g.write(ctx, streamWrite("a", 0, nil)) }()
			waitFor(t, "the first write holds the slot", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.busy == 1 })
			errs := make([]chan error, len(tt.queued))
			for i, puts := range tt.queued {
				errs[i] = make(chan error, 1)
				go func() { errs[i] <- g.write(ctx, puts) }()
				// One at a time, so that they queue in this order.
				waitFor(t, "the write waits", func() bool { return g.waitingLen() == i+1 })
			}
			close(st.gate)
			if err := <-first; err != nil {
				t.Fatalf("first write: %v", err)
			}
			for i, ch := range errs {
				if err := <-ch; !errors.Is(err, tt.wantErr[i]) || (err != nil) != (tt.wantErr[i] != nil) {
					t.Errorf("write %d: err = %v, want %v", i+1, err, tt.wantErr[i])
				}
			}
			got := st.writeSizes()
			if len(got) != len(tt.wantSizes) {
				t.Fatalf("writes of sizes %v, want %v", got, tt.wantSizes)
			}
			for i := range got {
				if got[i] != tt.wantSizes[i] {
					t.Fatalf("writes of sizes %v, want %v", got, tt.wantSizes)
				}
			}
			if g.busy != 0 || len(g.waiting) != 0 {
				t.Errorf("after the writes: %d slots busy, %d waiting; want none", g.busy, len(g.waiting))
			}
		})
	}
}

func TestGroupWriter_given_a_free_slot_then_a_write_goes_at_once_alone(t *testing.T) {
	st := newGatedStore()
	close(st.gate)
	g := newGroupWriter(st, 2)
	for _, s := range []string{"a", "b", "c"} {
		if err := g.write(context.Background(), streamWrite(s, 0, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if got := st.writeSizes(); len(got) != 3 {
		t.Errorf("writes of sizes %v, want three writes of 2", got)
	}
	if newGroupWriter(st, 0) != nil {
		t.Error("a writer with no slots is not nil")
	}
}
