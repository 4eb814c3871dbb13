package projectionstest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"buildledger/projections"
)

func testRoundTrip(ctx context.Context, t *testing.T, st projections.Store) {
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

func testGetMissing(ctx context.Context, t *testing.T, st projections.Store) {
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

func testGetMany(ctx context.Context, t *testing.T, st projections.Store) {
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
