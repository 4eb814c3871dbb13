package storedformat_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"buildledger/eventstore"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/eventstore/eventstoretest"
	"buildledger/internal/awstest"
)

// testdata/unsharded-2026-12-07.json is every events table item buildledger 05dee54 (the
// last version with one time index bucket per day, "tb" = "YYYYMMDD") wrote for four
// streams of six events and three Puts around midnight of 2026-12-06, with its day list
// ("$buckets"). It was made once, by a throwaway program against that commit, and is never
// regenerated.
const unshardedFixturePath = "testdata/unsharded-2026-12-07.json"

func loadUnshardedEvents(t *testing.T) []item {
	t.Helper()
	items := readFixture(t, unshardedFixturePath).tables[tableEvents]
	if len(items) == 0 {
		t.Fatalf("%s: no events", unshardedFixturePath)
	}
	return items
}

func TestStoredFormat_GivenUnshardedEventsAndShardedOnesOfTheSameDays_WhenReadAll_ThenEveryEventOnceInKeyOrderOnEveryPageSize(t *testing.T) {
	t.Parallel()
	stored := loadUnshardedEvents(t)
	client := awstest.DynamoDB(t)
	prefix := awstest.Prefix(t, "unsharded")
	eventsTable, commandsTable := prefix+"events", prefix+"commands"
	t.Cleanup(func() { awstest.DeleteTables(t.Context(), t, client, prefix) })
	if _, err := esdynamo.CreateTables(t.Context(), client, eventsTable, commandsTable); err != nil {
		t.Fatal(err)
	}
	putRaw(t, client, eventsTable, stored)

	var want []string
	legacy := map[string]item{}
	versions := map[string]int64{}
	for _, it := range stored {
		if strings.HasPrefix(str(it, attrStream), "$") {
			continue
		}
		if tb := str(it, "tb"); strings.Contains(tb, "#") || len(tb) != 8 {
			t.Fatalf("fixture item %s has bucket %q, want a bare day", str(it, "key"), tb)
		}
		want = append(want, str(it, "key"))
		legacy[str(it, "key")] = it
		versions[str(it, attrStream)] = max(versions[str(it, attrStream)], num(t, it, attrVersion))
	}

	// Today's writers, at 8 and at 3 shards, add events to the same streams and new ones,
	// their keys between the stored ones, on both days.
	var mu sync.Mutex
	at := time.Date(2026, 12, 6, 23, 59, 50, 350_000_000, time.UTC)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		at = at.Add(450 * time.Millisecond)
		return at
	}
	streams := []string{"repo:acme/api", "lock:production", "status:web/dev/1.2.0", "job:nightly/abc123", "repo:acme/web", "lock:staging", "repo:other/x", "job:deploy/1"}
	for i, shards := range []int{8, 3} {
		st, err := esdynamo.New(esdynamo.Config{Client: client, EventsTable: eventsTable, CommandsTable: commandsTable, Now: now, TimeShards: shards})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 3 {
			for j, s := range streams {
				recs, err := st.Append(t.Context(), s, versions[s], []eventstore.Event{{Type: "Today", Body: json.RawMessage(`{}`)}}, eventstore.CommandRef{ID: fmt.Sprintf("today-%d-%d-%d", i, round, j)})
				if err != nil {
					t.Fatal(err)
				}
				versions[s] = recs[0].Version
				want = append(want, recs[0].Key)
			}
			key, err := st.Put(t.Context(), json.RawMessage(`{"today":true}`))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, key)
		}
	}
	slices.Sort(want)
	sharded := 0
	for _, it := range scanRaw(t, client, eventsTable) {
		if strings.Contains(str(it, "tb"), "#") {
			sharded++
		}
	}
	if sharded != len(want)-len(legacy) {
		t.Fatalf("%d items in sharded buckets, want today's %d", sharded, len(want)-len(legacy))
	}

	st, err := esdynamo.New(esdynamo.Config{Client: client, EventsTable: eventsTable, CommandsTable: commandsTable})
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{1, 2, 5, 9, 1000} {
		t.Run(fmt.Sprintf("given pages of %d when read from the start then every key once in order", limit), func(t *testing.T) {
			records := eventstoretest.ReadAll(t, st, "", limit)
			for _, rec := range records {
				if it, ok := legacy[rec.Key]; ok && !sameRecord(rec, storedRecord(t, it)) {
					t.Errorf("stored event %s read as %+v", rec.Key, rec)
				}
			}
			if got := eventstoretest.Keys(records); !slices.Equal(got, want) {
				t.Errorf("ReadAll returned keys\n  %v\nwant\n  %v", got, want)
			}
		})
	}
	t.Run("given a key in the middle of the stored events when read after it then exactly what follows", func(t *testing.T) {
		for i := range want {
			page, err := st.ReadAll(t.Context(), want[i], len(want))
			if err != nil {
				t.Fatal(err)
			}
			if got := eventstoretest.Keys(page.Records); !slices.Equal(got, want[i+1:]) {
				t.Fatalf("after %s: %v, want %v", want[i], got, want[i+1:])
			}
		}
	})
}
