package projectionstest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"buildledger/projections"
)

func seqs(items []projections.Item) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it["seq"].(int64))
	}
	return out
}

func testQuery(ctx context.Context, t *testing.T, st projections.Store) {
	var puts []projections.Put
	for _, seq := range []int{10, 2, 1, 30, 3} {
		puts = append(puts, projections.Put{Table: events, Item: projections.Item{"pkgEnvVersion": "p#e#1", "seq": seq, "error": seq%2 == 0}})
	}
	puts = append(puts, projections.Put{Table: events, Item: projections.Item{"pkgEnvVersion": "p#e#2", "seq": 5}})
	must(t, st.WriteBatch(ctx, puts, nil))
	for _, tc := range []struct {
		name string
		q    projections.Query
		want []int64
	}{
		{"all", projections.Query{}, []int64{1, 2, 3, 10, 30}},
		{"after", projections.Query{After: int64(3)}, []int64{10, 30}},
		{"limit", projections.Query{Limit: 2}, []int64{1, 2}},
		{"after and limit", projections.Query{After: int64(2), Limit: 2}, []int64{3, 10}},
		{"descending", projections.Query{Descending: true}, []int64{30, 10, 3, 2, 1}},
		{"descending after", projections.Query{Descending: true, After: int64(10)}, []int64{3, 2, 1}},
		{"filter", projections.Query{Filter: map[string]any{"error": true}}, []int64{2, 10, 30}},
		{"filter and limit", projections.Query{Filter: map[string]any{"error": false}, Limit: 1}, []int64{1}},
	} {
		q := tc.q
		q.Table, q.Partition = events, "p#e#1"
		items, err := st.Query(ctx, q)
		must(t, err)
		if got := seqs(items); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: seqs = %v, want %v", tc.name, got, tc.want)
		}
	}
	must(t, st.WriteBatch(ctx, []projections.Put{
		{Table: repos, Item: projections.Item{"user": "u", "repo": "b"}},
		{Table: repos, Item: projections.Item{"user": "u", "repo": "a"}},
		{Table: repos, Item: projections.Item{"user": "u", "repo": "c"}},
	}, nil))
	items, err := st.Query(ctx, projections.Query{Table: repos, Partition: "u", After: "a"})
	must(t, err)
	if len(items) != 2 || items[0]["repo"] != "b" || items[1]["repo"] != "c" {
		t.Errorf("string sort keys after a = %v", items)
	}
	if items, err := st.Query(ctx, projections.Query{Table: repos, Partition: "nobody"}); err != nil || len(items) != 0 {
		t.Errorf("empty partition = %v, %v", items, err)
	}
}

func testQueryIndex(ctx context.Context, t *testing.T, st projections.Store) {
	var puts []projections.Put
	for i, j := range []struct{ jobname, version string }{{"deploy", "v1"}, {"build", "v1"}, {"deploy", "v2"}, {"test", "v1"}} {
		puts = append(puts, projections.Put{Table: jobs, Item: projections.Item{"jobname": j.jobname, "id": fmt.Sprint("run", i), "version": j.version}})
	}
	must(t, st.WriteBatch(ctx, puts, nil))
	items, err := st.Query(ctx, projections.Query{Table: jobs, Index: projections.IndexJobsByVersion, Partition: "v1"})
	must(t, err)
	var got []string
	for _, it := range items {
		got = append(got, it["jobname"].(string))
	}
	if want := []string{"build", "deploy", "test"}; !reflect.DeepEqual(got, want) {
		t.Errorf("byVersion v1 = %v, want %v", got, want)
	}
}

func testPaging(ctx context.Context, t *testing.T, st projections.Store) {
	const n = 400
	pad := strings.Repeat("x", 3000)
	var puts []projections.Put
	for i := range n {
		puts = append(puts, projections.Put{Table: events, Item: projections.Item{"pkgEnvVersion": "big", "seq": i + 1, "n": i + 1, "details": pad}})
	}
	must(t, st.WriteBatch(ctx, puts, nil))
	items, err := st.Query(ctx, projections.Query{Table: events, Partition: "big"})
	must(t, err)
	if len(items) != n || items[n-1]["seq"] != int64(n) {
		t.Fatalf("query returned %d items, want %d", len(items), n)
	}
	items, err = st.Query(ctx, projections.Query{Table: events, Partition: "big", Filter: map[string]any{"n": int64(n)}})
	must(t, err)
	if len(items) != 1 {
		t.Fatalf("filtered query over pages returned %d items, want 1", len(items))
	}
	count := 0
	must(t, st.Scan(ctx, events, func(items []projections.Item) error { count += len(items); return nil }))
	if count != n {
		t.Fatalf("scan saw %d items, want %d", count, n)
	}
}
