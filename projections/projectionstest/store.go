// Package projectionstest holds the tests every projections.Store must pass (Run), a
// scripted workload of all four aggregates (Workload), and the replay scenarios that
// compare live and replayed read models on a given backend (RunReplay). The in-memory store
// and the DynamoDB adapter run the same tests, so that what holds for one holds for the
// other.
package projectionstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"buildledger/projections"
)

// Run runs the store conformance suite. newStore must return a store that no other test
// uses, on which projections.Init has not run yet; subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) projections.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st projections.Store)
	}{
		{"given a new store when Init runs twice then generation 0 and readmodel exist once", testInit},
		{"given items of every value type when read back then values are normalized alike", testRoundTrip},
		{"given keys with and without items when Get then only stored items return", testGetMissing},
		{"given 250 keys over several tables when Get then every item returns", testGetMany},
		{"given an absent guard when the item exists then the write fails and changes nothing", testGuardAbsent},
		{"given an equal guard when the value matches, differs or the item is missing then only the match writes", testGuardEqual},
		{"given an older guard when stored tuples are older, equal or newer then only newer tuples write", testGuardOlder},
		{"given a transaction with one failing guard when written then none of it is written", testAtomic},
		{"given numeric and string sort keys when queried then order, after, descending, limit and filter hold", testQuery},
		{"given a global index when queried then it returns its partition in index order", testQueryIndex},
		{"given 1.2 MB in one partition when queried and scanned then every page is followed", testPaging},
		{"given 120 puts and deletes when written in a batch then all take effect", testWriteBatch},
		{"given malformed writes when written then ErrInvalidWrite and nothing written", testInvalidWrites},
		{"given a missing table when read or written then ErrNoTable", testNoTable},
		{"given generation tables when created and dropped then Tables follows", testGenerations},
		{"given 20 concurrent newest-wins writers when done then the newest tuple is stored", testConcurrentOlder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newStore(t)
			if _, err := projections.Init(context.Background(), st); err != nil {
				t.Fatalf("Init: %v", err)
			}
			tc.test(t, st)
		})
	}
}

var (
	repos     = projections.Table{Name: projections.TableRepos}
	builds    = projections.Table{Name: projections.TableBuilds}
	heads     = projections.Table{Name: projections.TableStatusHeads}
	events    = projections.Table{Name: projections.TableStatusEvents}
	jobs      = projections.Table{Name: projections.TableJobs}
	positions = projections.Table{Name: projections.TablePositions}
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, st projections.Store, k projections.Key) projections.Item {
	t.Helper()
	items, err := st.Get(context.Background(), []projections.Key{k})
	must(t, err)
	return items[k]
}

func headItem(pkgEnv, startedKey string, sv int64) projections.Item {
	return projections.Item{"pkgEnv": pkgEnv, "startedKey": startedKey, "streamVersion": sv}
}

func testInit(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testRoundTrip(t *testing.T, st projections.Store) {
	ctx := context.Background()
	in := projections.Item{
		"repoID": "api/foo", "buildID": 1, "tag": "master", "pending": int64(2), "whole": 50.0, "ratio": 100.0 / 3,
		"negative": -7.25, "flag": true, "off": false, "nothing": nil, "empty": "", "BrowserA-pending": true,
		"a name with spaces": "ok", "big": int64(1) << 53,
	}
	must(t, st.Write(ctx, []projections.Put{{Table: builds, Item: in}}, nil))
	got := get(t, st, projections.Key{Table: builds, Partition: "api/foo", Sort: int64(1)})
	want := projections.Item{
		"repoID": "api/foo", "buildID": int64(1), "tag": "master", "pending": int64(2), "whole": int64(50), "ratio": 100.0 / 3,
		"negative": -7.25, "flag": true, "off": false, "nothing": nil, "empty": "", "BrowserA-pending": true,
		"a name with spaces": "ok", "big": int64(1) << 53,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n got %#v\nwant %#v", got, want)
	}
	// Callers own what they get: changing it does not change the store.
	got["tag"] = "changed"
	if again := get(t, st, projections.Key{Table: builds, Partition: "api/foo", Sort: int64(1)}); again["tag"] != "master" {
		t.Errorf("store shares memory with callers: tag = %v", again["tag"])
	}
}

func testGetMissing(t *testing.T, st projections.Store) {
	ctx := context.Background()
	must(t, st.Write(ctx, []projections.Put{{Table: repos, Item: projections.Item{"user": "api", "repo": "foo"}}}, nil))
	have := projections.Key{Table: repos, Partition: "api", Sort: "foo"}
	missing := projections.Key{Table: repos, Partition: "api", Sort: "bar"}
	items, err := st.Get(ctx, []projections.Key{have, missing})
	must(t, err)
	if len(items) != 1 || items[have] == nil {
		t.Errorf("Get = %v, want only %s", items, have)
	}
	if it := get(t, st, missing); it != nil {
		t.Errorf("missing key returned %v", it)
	}
}

func testGetMany(t *testing.T, st projections.Store) {
	ctx := context.Background()
	var puts []projections.Put
	var keys []projections.Key
	for i := range 250 {
		switch i % 3 {
		case 0:
			puts = append(puts, projections.Put{Table: repos, Item: projections.Item{"user": "u", "repo": fmt.Sprint("r", i), "i": i}})
			keys = append(keys, projections.Key{Table: repos, Partition: "u", Sort: fmt.Sprint("r", i)})
		case 1:
			puts = append(puts, projections.Put{Table: builds, Item: projections.Item{"repoID": "u/r", "buildID": i, "i": i}})
			keys = append(keys, projections.Key{Table: builds, Partition: "u/r", Sort: int64(i)})
		default:
			puts = append(puts, projections.Put{Table: positions, Item: projections.Item{"stream": fmt.Sprint("repo:u/r", i), "i": i}})
			keys = append(keys, projections.Key{Table: positions, Partition: fmt.Sprint("repo:u/r", i)})
		}
	}
	must(t, st.WriteBatch(ctx, puts, nil))
	items, err := st.Get(ctx, append(keys, keys[0])) // a key twice is fine
	must(t, err)
	if len(items) != len(keys) {
		t.Fatalf("Get returned %d items, want %d", len(items), len(keys))
	}
	for i, k := range keys {
		if items[k]["i"] != int64(i) {
			t.Fatalf("item %s = %v", k, items[k])
		}
	}
}

func testGuardAbsent(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testGuardEqual(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testGuardOlder(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testAtomic(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func seqs(items []projections.Item) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it["seq"].(int64))
	}
	return out
}

func testQuery(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testQueryIndex(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testPaging(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testWriteBatch(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testInvalidWrites(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testNoTable(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testGenerations(t *testing.T, st projections.Store) {
	ctx := context.Background()
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

func testConcurrentOlder(t *testing.T, st projections.Store) {
	ctx := context.Background()
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
