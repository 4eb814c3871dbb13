package memory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"buildledger/snapshots"
	"buildledger/snapshots/memory"
	"buildledger/snapshots/snapshotstest"
)

func TestConformance(t *testing.T) {
	snapshotstest.Run(t, func(t *testing.T) snapshots.Store { return memory.New() })
}

func TestZeroValueStore(t *testing.T) {
	snapshotstest.Run(t, func(t *testing.T) snapshots.Store { return &memory.Store{} })
}

func TestStore_createdAtFromClock(t *testing.T) {
	seedTime := time.UnixMilli(946684800000)
	st := memory.NewWithClock(func() time.Time { return seedTime })
	ctx := context.Background()
	if err := st.Store(ctx, snapshots.Snapshot{AggregateID: "00000000-0000-0000-0000-000000000000", Version: 1, State: json.RawMessage(`{"foo":"bar"}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Fetch(ctx, "00000000-0000-0000-0000-000000000000", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.UnixMilli() != 946684800000 {
		t.Errorf("createdAt %d, want 946684800000", got.CreatedAt.UnixMilli())
	}
}
