package eventstoretest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"buildledger/eventstore"
)

func testReadAll(t *testing.T, st eventstore.Store) {
	streams := []string{"repo:a/one", "status:b/dev/1", "lock:c"}
	type ref struct {
		stream  string
		version int64
	}
	var want []ref
	putBodies := make(map[string]string)
	for round := range 4 {
		for _, s := range streams {
			mustAppend(t, st, s, int64(round), []eventstore.Event{event("E", fmt.Sprintf(`{"round":%d}`, round))}, newCommand("X"))
			want = append(want, ref{s, int64(round + 1)})
		}
		body := fmt.Sprintf(`{"put":%d}`, round)
		key, err := st.Put(testContext(t), json.RawMessage(body))
		if err != nil {
			t.Fatalf("put: %v", err)
		}
		putBodies[key] = body
		want = append(want, ref{eventstore.PutStreamPrefix + key, 1})
	}
	for _, limit := range []int{1, 5, 16, 100} {
		all := ReadAll(t, st, "", limit)
		if len(all) != len(want) {
			t.Fatalf("limit %d: read %d events, want %d", limit, len(all), len(want))
		}
		for i, r := range all {
			if (ref{r.Stream, r.Version}) != want[i] {
				t.Errorf("limit %d: event %d is %s@%d, want %s@%d", limit, i, r.Stream, r.Version, want[i].stream, want[i].version)
			}
			if i > 0 && r.Key <= all[i-1].Key {
				t.Errorf("limit %d: key %s is not after %s", limit, r.Key, all[i-1].Key)
			}
			if body, ok := putBodies[r.Key]; ok && (r.Type != eventstore.PutEventType || string(r.Body) != body) {
				t.Errorf("limit %d: put event %s is %s %s, want Put %s", limit, r.Key, r.Type, r.Body, body)
			}
		}
		if limit == 100 {
			// Starting in the middle returns exactly what follows.
			rest := ReadAll(t, st, all[6].Key, 3)
			if len(rest) != len(all)-7 || rest[0].Key != all[7].Key {
				t.Errorf("after the 7th key: %d events starting %v, want %d starting %s", len(rest), firstKey(rest), len(all)-7, all[7].Key)
			}
			if end := ReadAll(t, st, all[len(all)-1].Key, 3); len(end) != 0 {
				t.Errorf("after the last key: %d events", len(end))
			}
		}
	}
	if _, err := st.ReadAll(testContext(t), "", 0); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("limit 0: got %v, want ErrInvalidInput", err)
	}
}

// testReadAllManyStreams interleaves more streams than a store may have index partitions
// per day (the DynamoDB adapter spreads streams over shards and merges them), so that every
// page boundary falls between events of different partitions.
func testReadAllManyStreams(t *testing.T, st eventstore.Store) {
	var want []string
	for round := range 3 {
		for i := range 24 {
			recs := mustAppend(t, st, fmt.Sprintf("repo:many/s%02d", i), int64(round), []eventstore.Event{event("E", `{}`)}, newCommand("X"))
			want = append(want, recs[0].Key)
		}
	}
	for _, limit := range []int{1, 2, 7, 24, 1000} {
		if got := Keys(ReadAll(t, st, "", limit)); !slices.Equal(got, want) {
			t.Errorf("limit %d: read keys\n  %v\nwant, in append order,\n  %v", limit, got, want)
		}
	}
}
