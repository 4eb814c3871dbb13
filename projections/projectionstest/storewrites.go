package projectionstest

import (
	"context"
	"errors"
	"testing"

	"buildledger/projections"
)

func testWriteBatch(ctx context.Context, t *testing.T, st projections.Store) {
	var puts []projections.Put
	for i := range 120 {
		puts = append(puts, projections.Put{Table: builds, Item: projections.Item{"repoID": "u/r", "buildID": i}})
	}
	must(t, st.WriteBatch(ctx, puts, nil))
	var deletes []projections.Key
	for i := range 60 {
		deletes = append(deletes, projections.Key{Table: builds, Partition: "u/r", Sort: int64(2 * i)})
	}
	more := []projections.Put{{Table: repos, Item: projections.Item{"user": "u", "repo": "r"}}}
	must(t, st.WriteBatch(ctx, more, deletes))
	items, err := st.Query(ctx, projections.Query{Table: builds, Partition: "u/r"})
	must(t, err)
	if len(items) != 60 {
		t.Fatalf("%d builds left, want 60", len(items))
	}
	for _, it := range items {
		if it["buildID"].(int64)%2 == 0 {
			t.Fatalf("build %v was not deleted", it["buildID"])
		}
	}
	if get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "r"}) == nil {
		t.Error("put of a mixed batch is missing")
	}
}

func testInvalidWrites(ctx context.Context, t *testing.T, st projections.Store) {
	tooMany := make([]projections.Put, projections.MaxWriteItems+1)
	for i := range tooMany {
		tooMany[i] = projections.Put{Table: builds, Item: projections.Item{"repoID": "u/r", "buildID": i}}
	}
	for _, tc := range []struct {
		name    string
		puts    []projections.Put
		deletes []projections.Key
		batch   bool
	}{
		{"string sort key on a numeric table", []projections.Put{{Table: builds, Item: projections.Item{"repoID": "u/r", "buildID": "1"}}}, nil, false},
		{"missing partition key", []projections.Put{{Table: repos, Item: projections.Item{"repo": "r"}}}, nil, false},
		{"unsupported value", []projections.Put{{Table: repos, Item: projections.Item{"user": "u", "repo": "r", "list": []string{"a"}}}}, nil, false},
		{"unknown table", []projections.Put{{Table: projections.Table{Name: "nope"}, Item: projections.Item{"id": "x"}}}, nil, false},
		{"same item twice", []projections.Put{{Table: repos, Item: projections.Item{"user": "u", "repo": "r"}}}, []projections.Key{{Table: repos, Partition: "u", Sort: "r"}}, false},
		{"guard in a batch", []projections.Put{{Table: repos, Item: projections.Item{"user": "u", "repo": "r"}, Guard: projections.Absent()}}, nil, true},
		{"more than 100 items", tooMany, nil, false},
	} {
		var err error
		if tc.batch {
			err = st.WriteBatch(ctx, tc.puts, tc.deletes)
		} else {
			err = st.Write(ctx, tc.puts, tc.deletes)
		}
		if !errors.Is(err, projections.ErrInvalidWrite) {
			t.Errorf("%s: %v, want ErrInvalidWrite", tc.name, err)
		}
	}
	if get(t, st, projections.Key{Table: repos, Partition: "u", Sort: "r"}) != nil {
		t.Error("an invalid write wrote something")
	}
}
