// Package snapshotstest is the conformance suite every snapshots.Store must pass: the
// in-memory store and the DynamoDB adapter run the same tests, so that what holds for one
// holds for the other.
package snapshotstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"buildledger/snapshots"
)

// RawWriter is implemented by stores, or test wrappers around them, that can write a
// snapshot exactly as given: no validation, no newer-wins rule. The suite uses it to check
// that a stored snapshot whose state does not decode is reported as unusable; stores that do
// not offer it skip that test.
type RawWriter interface {
	// PutRaw writes s as given, replacing whatever is stored for s.AggregateID.
	PutRaw(ctx context.Context, s snapshots.Snapshot) error
}

// Run runs the conformance suite. newStore must return an empty store that no other test
// uses; subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) snapshots.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st snapshots.Store)
	}{
		{"given a stored snapshot when fetched then every field round-trips", testRoundTrip},
		{"given no snapshot when fetched then ErrNotFound", testMissing},
		{"given an empty aggregateId when fetched then ErrInvalidInput", testFetchEmptyID},
		{"given no createdAt when stored then the store's clock sets it", testCreatedAtDefault},
		{"given stored versions when older, newer and equal ones arrive then the newest first-stored wins", testNewerWins},
		{"given another schema when fetched then unusable and not found", testSchemaMismatch},
		{"given invalid input when stored then ErrInvalidInput and nothing stored", testInvalidInput},
		{"given invalid input when stored over a snapshot then the snapshot stays", testInvalidKeepsExisting},
		{"given several aggregates when fetched then each has its own", testIsolation},
		{"given a stored snapshot when caller buffers change then the stored state does not", testNoAliasing},
		{"given a 100 KB state when stored then it round-trips", testLargeState},
		{"given 20 concurrent writers with random versions then the max version is stored", testConcurrentWriters},
		{"given undecodable state when fetched then unusable and not found", testUndecodableState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStore(t))
		})
	}
}

func testRoundTrip(t *testing.T, st snapshots.Store) {
	// Nanoseconds and a non-UTC zone: stores keep milliseconds, in UTC.
	created := time.Date(2024, 3, 9, 17, 4, 5, 123_456_789, time.FixedZone("CET", 3600))
	want := snapshots.Snapshot{
		AggregateID: "repo:api/foo",
		Version:     42,
		Schema:      3,
		CreatedAt:   created,
		State:       json.RawMessage(`{"foo":"bar","builds":[1,2,3],"pending":{"chrome":true}}`),
	}
	mustStore(t, st, want)

	got := mustFetch(t, st, want.AggregateID, want.Schema)
	if got.AggregateID != want.AggregateID || got.Version != want.Version || got.Schema != want.Schema {
		t.Errorf("fetched id/version/schema %q/%d/%d, want %q/%d/%d",
			got.AggregateID, got.Version, got.Schema, want.AggregateID, want.Version, want.Schema)
	}
	if wantAt := created.Truncate(time.Millisecond); !got.CreatedAt.Equal(wantAt) {
		t.Errorf("createdAt %v, want %v", got.CreatedAt, wantAt)
	}
	if got.CreatedAt.UnixMilli() != created.UnixMilli() {
		t.Errorf("createdAt %d ms, want %d ms", got.CreatedAt.UnixMilli(), created.UnixMilli())
	}
	assertJSONEqual(t, got.State, want.State)
}

func testMissing(t *testing.T, st snapshots.Store) {
	_, err := st.Fetch(t.Context(), "repo:nobody/nothing", 1)
	if !errors.Is(err, snapshots.ErrNotFound) {
		t.Fatalf("fetch of a missing id: %v, want ErrNotFound", err)
	}
	var unusable *snapshots.UnusableError
	if errors.As(err, &unusable) {
		t.Errorf("fetch of a missing id: %v, want plain not found, not unusable", err)
	}
}

func testFetchEmptyID(t *testing.T, st snapshots.Store) {
	if _, err := st.Fetch(t.Context(), "", 1); !errors.Is(err, snapshots.ErrInvalidInput) {
		t.Fatalf("fetch of an empty id: %v, want ErrInvalidInput", err)
	}
}

func testCreatedAtDefault(t *testing.T, st snapshots.Store) {
	before := time.Now().Truncate(time.Millisecond)
	mustStore(t, st, snapshots.Snapshot{AggregateID: "lock:prod", Version: 1, Schema: 1, State: json.RawMessage(`{}`)})
	after := time.Now()

	got := mustFetch(t, st, "lock:prod", 1)
	if got.CreatedAt.Before(before) || got.CreatedAt.After(after) {
		t.Errorf("createdAt %v, want within [%v, %v]", got.CreatedAt, before, after)
	}
}

func testNewerWins(t *testing.T, st snapshots.Store) {
	const id = "repo:api/newer"
	steps := []struct {
		store       int64
		state       string
		wantVersion int64
		wantState   string
	}{
		{store: 5, state: `{"n":5}`, wantVersion: 5, wantState: `{"n":5}`},
		{store: 3, state: `{"n":3}`, wantVersion: 5, wantState: `{"n":5}`},
		{store: 7, state: `{"n":7}`, wantVersion: 7, wantState: `{"n":7}`},
		{store: 7, state: `{"n":"other"}`, wantVersion: 7, wantState: `{"n":7}`},
		{store: 6, state: `{"n":6}`, wantVersion: 7, wantState: `{"n":7}`},
	}
	for i, step := range steps {
		mustStore(t, st, snapshots.Snapshot{AggregateID: id, Version: step.store, Schema: 1, State: json.RawMessage(step.state)})
		got := mustFetch(t, st, id, 1)
		if got.Version != step.wantVersion {
			t.Errorf("step %d: after storing v%d fetched v%d, want v%d", i+1, step.store, got.Version, step.wantVersion)
		}
		assertJSONEqual(t, got.State, json.RawMessage(step.wantState))
	}
}

func testSchemaMismatch(t *testing.T, st snapshots.Store) {
	mustStore(t, st, snapshots.Snapshot{AggregateID: "status:pkg/prod/1.0.0", Version: 9, Schema: 1, State: json.RawMessage(`{}`)})

	_, err := st.Fetch(t.Context(), "status:pkg/prod/1.0.0", 2)
	if !errors.Is(err, snapshots.ErrNotFound) {
		t.Errorf("fetch with another schema: %v, want errors.Is ErrNotFound", err)
	}
	var unusable *snapshots.UnusableError
	if !errors.As(err, &unusable) {
		t.Fatalf("fetch with another schema: %v, want *UnusableError", err)
	}
	want := snapshots.UnusableError{AggregateID: "status:pkg/prod/1.0.0", Version: 9, Reason: "schema 1, want 2"}
	if *unusable != want {
		t.Errorf("unusable error %+v, want %+v", *unusable, want)
	}
}

func testInvalidInput(t *testing.T, st snapshots.Store) {
	for _, tc := range []struct {
		name string
		s    snapshots.Snapshot
	}{
		{"empty aggregateId", snapshots.Snapshot{Version: 1, State: json.RawMessage(`{}`)}},
		{"version 0", snapshots.Snapshot{AggregateID: "job:a/1", Version: 0, State: json.RawMessage(`{}`)}},
		{"negative version", snapshots.Snapshot{AggregateID: "job:b/1", Version: -3, State: json.RawMessage(`{}`)}},
		{"state not JSON", snapshots.Snapshot{AggregateID: "job:c/1", Version: 1, State: json.RawMessage(`{"foo":`)}},
		{"no state", snapshots.Snapshot{AggregateID: "job:d/1", Version: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := st.Store(t.Context(), tc.s)
			if !errors.Is(err, snapshots.ErrInvalidInput) {
				t.Fatalf("store: %v, want ErrInvalidInput", err)
			}
			if tc.s.AggregateID == "" {
				return
			}
			if _, err := st.Fetch(t.Context(), tc.s.AggregateID, tc.s.Schema); !errors.Is(err, snapshots.ErrNotFound) {
				t.Errorf("fetch after invalid store: %v, want ErrNotFound", err)
			}
		})
	}
}

func testInvalidKeepsExisting(t *testing.T, st snapshots.Store) {
	mustStore(t, st, snapshots.Snapshot{AggregateID: "lock:stage", Version: 2, Schema: 1, State: json.RawMessage(`{"v":2}`)})
	err := st.Store(t.Context(), snapshots.Snapshot{AggregateID: "lock:stage", Version: 3, Schema: 1, State: json.RawMessage(`not json`)})
	if !errors.Is(err, snapshots.ErrInvalidInput) {
		t.Fatalf("store: %v, want ErrInvalidInput", err)
	}
	got := mustFetch(t, st, "lock:stage", 1)
	if got.Version != 2 {
		t.Errorf("fetched v%d, want v2", got.Version)
	}
	assertJSONEqual(t, got.State, json.RawMessage(`{"v":2}`))
}

func testIsolation(t *testing.T, st snapshots.Store) {
	ids := []string{"repo:a/x", "repo:a/y", "repo:b/x"}
	for i, id := range ids {
		mustStore(t, st, snapshots.Snapshot{AggregateID: id, Version: int64(i + 1), Schema: 1, State: stateFor(id)})
	}
	for i, id := range ids {
		got := mustFetch(t, st, id, 1)
		if got.AggregateID != id || got.Version != int64(i+1) {
			t.Errorf("fetch %s: got %s v%d, want v%d", id, got.AggregateID, got.Version, i+1)
		}
		assertJSONEqual(t, got.State, stateFor(id))
	}
}

func testNoAliasing(t *testing.T, st snapshots.Store) {
	state := json.RawMessage(`{"a":1}`)
	mustStore(t, st, snapshots.Snapshot{AggregateID: "repo:alias/x", Version: 1, Schema: 1, State: state})
	copy(state, `{"a":2}`)

	first := mustFetch(t, st, "repo:alias/x", 1)
	assertJSONEqual(t, first.State, json.RawMessage(`{"a":1}`))
	copy(first.State, `{"a":3}`)

	second := mustFetch(t, st, "repo:alias/x", 1)
	assertJSONEqual(t, second.State, json.RawMessage(`{"a":1}`))
}

func testLargeState(t *testing.T, st snapshots.Store) {
	state, err := json.Marshal(map[string]string{"blob": strings.Repeat("x", 100*1024)})
	if err != nil {
		t.Fatal(err)
	}
	mustStore(t, st, snapshots.Snapshot{AggregateID: "repo:big/x", Version: 1, Schema: 1, State: state})
	assertJSONEqual(t, mustFetch(t, st, "repo:big/x", 1).State, state)
}

func testConcurrentWriters(t *testing.T, st snapshots.Store) {
	const id, writers = "repo:race/x", 20
	versions := make([]int64, writers)
	var highest int64
	for i := range versions {
		versions[i] = 1 + rand.Int64N(1000)
		highest = max(highest, versions[i])
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for _, v := range versions {
		wg.Go(func() {
			<-start
			errs <- st.Store(t.Context(), snapshots.Snapshot{AggregateID: id, Version: v, Schema: 1, State: stateFor(fmt.Sprint(v))})
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent store: %v", err)
		}
	}

	got := mustFetch(t, st, id, 1)
	if got.Version != highest {
		t.Errorf("fetched v%d, want the max v%d of %v", got.Version, highest, versions)
	}
	assertJSONEqual(t, got.State, stateFor(fmt.Sprint(highest)))
}

func testUndecodableState(t *testing.T, st snapshots.Store) {
	raw, ok := st.(RawWriter)
	if !ok {
		t.Skip("store cannot write a raw snapshot")
	}
	err := raw.PutRaw(t.Context(), snapshots.Snapshot{
		AggregateID: "repo:corrupt/x", Version: 4, Schema: 1, CreatedAt: time.UnixMilli(946684800000), State: json.RawMessage(`{"foo":`),
	})
	if err != nil {
		t.Fatalf("put raw: %v", err)
	}

	_, err = st.Fetch(t.Context(), "repo:corrupt/x", 1)
	if !errors.Is(err, snapshots.ErrNotFound) {
		t.Errorf("fetch of undecodable state: %v, want errors.Is ErrNotFound", err)
	}
	var unusable *snapshots.UnusableError
	if !errors.As(err, &unusable) {
		t.Fatalf("fetch of undecodable state: %v, want *UnusableError", err)
	}
	if unusable.AggregateID != "repo:corrupt/x" || unusable.Version != 4 || unusable.Reason == "" {
		t.Errorf("unusable error %+v, want aggregate repo:corrupt/x, version 4 and a reason", *unusable)
	}

	// A valid newer snapshot replaces the undecodable one.
	mustStore(t, st, snapshots.Snapshot{AggregateID: "repo:corrupt/x", Version: 5, Schema: 1, State: json.RawMessage(`{"foo":1}`)})
	if got := mustFetch(t, st, "repo:corrupt/x", 1); got.Version != 5 {
		t.Errorf("fetched v%d after storing v5, want v5", got.Version)
	}
}

func mustStore(t *testing.T, st snapshots.Store, s snapshots.Snapshot) {
	t.Helper()
	if err := st.Store(t.Context(), s); err != nil {
		t.Fatalf("store %s v%d: %v", s.AggregateID, s.Version, err)
	}
}

func mustFetch(t *testing.T, st snapshots.Store, id string, schema int) snapshots.Snapshot {
	t.Helper()
	s, err := st.Fetch(t.Context(), id, schema)
	if err != nil {
		t.Fatalf("fetch %s: %v", id, err)
	}
	return s
}

func assertJSONEqual(t *testing.T, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("state %s does not decode: %v", abbreviate(got), err)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("expected state %s does not decode: %v", abbreviate(want), err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("state %s, want %s", abbreviate(got), abbreviate(want))
	}
}

func stateFor(s string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"of": s})
	return b
}

func abbreviate(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
