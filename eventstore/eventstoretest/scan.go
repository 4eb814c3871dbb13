package eventstoretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"buildledger/eventstore"
)

// scanner is the parallel scan that stores offer for replays.
type scanner interface {
	ScanSegments(ctx context.Context, segments int, fn func(segment int, recs []eventstore.Record) error) error
	EstimateEvents(ctx context.Context) (int64, error)
}

func testScanSegments(t *testing.T, st eventstore.Store) {
	sc, ok := st.(scanner)
	if !ok {
		t.Skip("the store has no ScanSegments")
	}
	want := map[string]int64{}
	for i := range 12 {
		stream := fmt.Sprintf("repo:scan/r%d", i)
		mustAppend(t, st, stream, 0, []eventstore.Event{event("A", `{}`), event("B", `{}`), event("C", `{}`)}, newCommand("X"))
		want[stream] = 3
	}
	key, err := st.Put(testContext(t), json.RawMessage(`{"put":true}`))
	if err != nil {
		t.Fatal(err)
	}
	want[eventstore.PutStreamPrefix+key] = 1
	var mu sync.Mutex
	segmentOf, last := map[string]int{}, map[string]int64{}
	err = sc.ScanSegments(testContext(t), 4, func(segment int, recs []eventstore.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			if seg, seen := segmentOf[r.Stream]; seen && seg != segment {
				t.Errorf("%s is in segments %d and %d", r.Stream, seg, segment)
			}
			segmentOf[r.Stream] = segment
			if r.Version != last[r.Stream]+1 {
				t.Errorf("%s: version %d after %d", r.Stream, r.Version, last[r.Stream])
			}
			last[r.Stream] = r.Version
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ScanSegments: %v", err)
	}
	if !reflect.DeepEqual(last, want) {
		t.Errorf("scanned %v, want %v", last, want)
	}
	if n, err := sc.EstimateEvents(testContext(t)); err != nil || n < 0 {
		t.Errorf("EstimateEvents = %d, %v", n, err)
	}
	if err := sc.ScanSegments(testContext(t), 0, func(int, []eventstore.Record) error { return nil }); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("ScanSegments of 0 segments: %v, want ErrInvalidInput", err)
	}
}
