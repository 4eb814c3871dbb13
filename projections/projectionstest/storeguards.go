package projectionstest

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"buildledger/projections"
)

func testGuardAbsent(ctx context.Context, t *testing.T, st projections.Store) {
	p := projections.Put{Table: positions, Item: projections.Item{"stream": "repo:a/b", "version": 1}, Guard: projections.Absent()}
	must(t, st.Write(ctx, []projections.Put{p}, nil))
	p.Item = projections.Item{"stream": "repo:a/b", "version": 2}
	if err := st.Write(ctx, []projections.Put{p}, nil); !errors.Is(err, projections.ErrConditionFailed) {
		t.Fatalf("second absent write: %v, want ErrConditionFailed", err)
	}
	if v := get(t, st, projections.Key{Table: positions, Partition: "repo:a/b"})["version"]; v != int64(1) {
		t.Errorf("version = %v, want 1", v)
	}
}

func testGuardEqual(ctx context.Context, t *testing.T, st projections.Store) {
	k := projections.Key{Table: positions, Partition: "repo:a/b"}
	write := func(version int64, g *projections.Guard) error {
		return st.Write(ctx, []projections.Put{{Table: positions, Item: projections.Item{"stream": "repo:a/b", "version": version}, Guard: g}}, nil)
	}
	if err := write(1, projections.Equal("version", int64(0))); !errors.Is(err, projections.ErrConditionFailed) {
		t.Fatalf("equal guard on a missing item: %v, want ErrConditionFailed", err)
	}
	must(t, write(1, nil))
	if err := write(2, projections.Equal("version", int64(7))); !errors.Is(err, projections.ErrConditionFailed) {
		t.Fatalf("equal guard on another value: %v, want ErrConditionFailed", err)
	}
	if err := write(2, projections.Equal("version", "1")); !errors.Is(err, projections.ErrConditionFailed) {
		t.Fatalf("equal guard with a string for a number: %v, want ErrConditionFailed", err)
	}
	must(t, write(2, projections.Equal("version", int64(1))))
	if v := get(t, st, k)["version"]; v != int64(2) {
		t.Errorf("version = %v, want 2", v)
	}
}

func testGuardOlder(ctx context.Context, t *testing.T, st projections.Store) {
	k := projections.Key{Table: heads, Partition: "p#e"}
	write := func(startedKey string, sv int64) error {
		return st.Write(ctx, []projections.Put{{
			Table: heads, Item: headItem("p#e", startedKey, sv),
			Guard: projections.Older([]string{"startedKey", "streamVersion"}, []any{startedKey, sv}),
		}}, nil)
	}
	for _, step := range []struct {
		key  string
		sv   int64
		want bool
	}{
		{"k2", 1, true},   // absent
		{"k2", 3, true},   // same key, newer version
		{"k2", 3, false},  // equal
		{"k2", 2, false},  // same key, older version
		{"k1", 9, false},  // older key
		{"k3", 1, true},   // newer key, smaller version
		{"k10", 1, false}, // strings compare by bytes: "k10" < "k3"
	} {
		err := write(step.key, step.sv)
		if step.want && err != nil {
			t.Fatalf("write (%s,%d): %v", step.key, step.sv, err)
		}
		if !step.want && !errors.Is(err, projections.ErrConditionFailed) {
			t.Fatalf("write (%s,%d): %v, want ErrConditionFailed", step.key, step.sv, err)
		}
	}
	if it := get(t, st, k); it["startedKey"] != "k3" || it["streamVersion"] != int64(1) {
		t.Errorf("head = %v, want (k3, 1)", it)
	}
}

func testAtomic(ctx context.Context, t *testing.T, st projections.Store) {
	must(t, st.Write(ctx, []projections.Put{
		{Table: positions, Item: projections.Item{"stream": "s1", "version": 5}},
		{Table: repos, Item: projections.Item{"user": "u", "repo": "gone"}},
	}, nil))
	err := st.Write(ctx, []projections.Put{
		{Table: repos, Item: projections.Item{"user": "u", "repo": "new"}},
		{Table: builds, Item: projections.Item{"repoID": "u/new", "buildID": 1}},
		{Table: positions, Item: projections.Item{"stream": "s1", "version": 6}, Guard: projections.Equal("version", int64(4))},
	}, []projections.Key{{Table: repos, Partition: "u", Sort: "gone"}})
	if !errors.Is(err, projections.ErrConditionFailed) {
		t.Fatalf("Write: %v, want ErrConditionFailed", err)
	}
	if get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "new"}) != nil ||
		get(t, st, projections.Key{Table: builds, Partition: "u/new", Sort: int64(1)}) != nil ||
		get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "gone"}) == nil {
		t.Error("a failed transaction changed items")
	}
	must(t, st.Write(ctx, []projections.Put{
		{Table: repos, Item: projections.Item{"user": "u", "repo": "new"}},
		{Table: positions, Item: projections.Item{"stream": "s1", "version": 6}, Guard: projections.Equal("version", int64(5))},
	}, []projections.Key{{Table: repos, Partition: "u", Sort: "gone"}}))
	if get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "new"}) == nil ||
		get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "gone"}) != nil {
		t.Error("a transaction did not take effect")
	}
}

func testConcurrentOlder(ctx context.Context, t *testing.T, st projections.Store) {
	var wg sync.WaitGroup
	var maxV int64
	var mu sync.Mutex
	for w := range 20 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 5 {
				v := r.Int64N(1000) + 1
				err := st.Write(ctx, []projections.Put{{
					Table: heads, Item: headItem("p#e", "k", v),
					Guard: projections.Older([]string{"startedKey", "streamVersion"}, []any{"k", v}),
				}}, nil)
				if err != nil && !errors.Is(err, projections.ErrConditionFailed) {
					t.Error(err)
				}
				mu.Lock()
				maxV = max(maxV, v)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if got := get(t, st, projections.Key{Table: heads, Partition: "p#e"})["streamVersion"]; got != maxV {
		t.Errorf("stored %v, want the max %d", got, maxV)
	}
}
