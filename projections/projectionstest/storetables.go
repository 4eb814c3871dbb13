package projectionstest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"

	"buildledger/projections"
)

func testInit(ctx context.Context, t *testing.T, st projections.Store) {
	again, err := projections.Init(ctx, st)
	must(t, err)
	if len(again) != 0 {
		t.Errorf("second Init created %v, want nothing", again)
	}
	tables, err := st.Tables(ctx)
	must(t, err)
	var names []string
	for _, tb := range tables {
		if tb.Generation != 0 {
			t.Errorf("table %s of generation %d after Init", tb.Name, tb.Generation)
		}
		names = append(names, tb.Name)
	}
	slices.Sort(names)
	want := []string{"builds", "jobs", "locks", "positions", "readmodel", "repos", "status_counters", "status_events", "status_heads", "statuses"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("tables = %v, want %v", names, want)
	}
}

func testNoTable(ctx context.Context, t *testing.T, st projections.Store) {
	gone := projections.Table{Name: projections.TableRepos, Generation: 99}
	k := projections.Key{Table: gone, Partition: "u", Sort: "r"}
	if _, err := st.Get(ctx, []projections.Key{k}); !errors.Is(err, projections.ErrNoTable) {
		t.Errorf("Get: %v, want ErrNoTable", err)
	}
	if err := st.Write(ctx, []projections.Put{{Table: gone, Item: projections.Item{"user": "u", "repo": "r"}}}, nil); !errors.Is(err, projections.ErrNoTable) {
		t.Errorf("Write: %v, want ErrNoTable", err)
	}
	two := []projections.Put{
		{Table: gone, Item: projections.Item{"user": "u", "repo": "r"}},
		{Table: positions, Item: projections.Item{"stream": "s"}},
	}
	if err := st.Write(ctx, two, nil); !errors.Is(err, projections.ErrNoTable) {
		t.Errorf("transaction: %v, want ErrNoTable", err)
	}
	if _, err := st.Query(ctx, projections.Query{Table: gone, Partition: "u"}); !errors.Is(err, projections.ErrNoTable) {
		t.Errorf("Query: %v, want ErrNoTable", err)
	}
	if err := st.Scan(ctx, gone, func([]projections.Item) error { return nil }); !errors.Is(err, projections.ErrNoTable) {
		t.Errorf("Scan: %v, want ErrNoTable", err)
	}
}

func testGenerations(ctx context.Context, t *testing.T, st projections.Store) {
	g3 := []projections.Table{{Name: projections.TableRepos, Generation: 3}, {Name: projections.TablePositions, Generation: 3}}
	created, err := st.CreateTables(ctx, g3)
	must(t, err)
	if len(created) != 2 {
		t.Fatalf("created %v, want both", created)
	}
	must(t, st.Write(ctx, []projections.Put{{Table: g3[0], Item: projections.Item{"user": "u", "repo": "r3"}}}, nil))
	if get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "r3"}) != nil {
		t.Error("generation 3 item visible in generation 0")
	}
	has := func(tb projections.Table) bool {
		tables, err := st.Tables(ctx)
		must(t, err)
		return slices.Contains(tables, tb)
	}
	if !has(g3[0]) || !has(g3[1]) {
		t.Fatal("Tables does not list generation 3")
	}
	must(t, st.DropTables(ctx, append(g3, projections.Table{Name: projections.TableJobs, Generation: 42})))
	if has(g3[0]) || has(g3[1]) {
		t.Error("Tables lists dropped tables")
	}
	if !has(repos) {
		t.Error("dropping generation 3 dropped generation 0")
	}
}
