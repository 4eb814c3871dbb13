package dynamo_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"buildledger/snapshots"
	"buildledger/snapshots/dynamo"
)

// BenchmarkFetch measures loading a 10 KB snapshot, the cost an aggregate load pays before
// replaying the events after it.
func BenchmarkFetch(b *testing.B) {
	client, table := newTable(b)
	st := newStore(b, dynamo.Config{Client: client, Table: table})
	state := tenKBState(b)
	const id = "repo:bench/fetch"
	if err := st.Store(b.Context(), snapshots.Snapshot{AggregateID: id, Version: 1000, Schema: 1, State: state}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(state)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Fetch(b.Context(), id, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// tenKBState is a repo-like state of builds and browsers, about 10 KB of JSON.
func tenKBState(b *testing.B) json.RawMessage {
	type build struct {
		ID       int             `json:"id"`
		Tag      string          `json:"tag"`
		Pending  int             `json:"pending"`
		Browsers map[string]bool `json:"browsers"`
	}
	var builds []build
	for i := 1; ; i++ {
		builds = append(builds, build{
			ID: i, Tag: fmt.Sprintf("v1.%d.0-%s", i, strings.Repeat("r", 8)), Pending: 2,
			Browsers: map[string]bool{"chrome": true, "firefox": false, "safari": true, "edge": false},
		})
		state, err := json.Marshal(map[string]any{"user": "api", "repo": "foo", "builds": builds})
		if err != nil {
			b.Fatal(err)
		}
		if len(state) >= 10*1024 {
			return state
		}
	}
}
