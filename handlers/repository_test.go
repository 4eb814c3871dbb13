package handlers_test

import (
	"context"
	"fmt"
	"testing"

	"buildledger/handlers"
	"buildledger/snapshots"
)

func TestAggregates_GivenSnapshotAndTail_WhenLoad_ThenLatestVersionFromTheSnapshotOn(t *testing.T) {
	f := newFixture(t, func(c *handlers.CommandHandlerConfig) { c.SnapshotPolicy = snapshots.EveryN(3) })
	for i := range 5 {
		f.mustAccept(t, fmt.Sprintf("c%d", i), lockReleaseCycle(i))
	}
	f.handler.Wait()
	tests := []struct {
		name     string
		snaps    snapshots.Store
		wantFrom int64
	}{
		{"given a snapshot at 3 then only the events after it are read", f.snaps, 4},
		{"given no snapshot store then every event is read", nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := handlers.NewAggregates(f.events, tt.snaps)
			if err != nil {
				t.Fatal(err)
			}
			agg, err := repo.Load(context.Background(), "lock:prod")
			if err != nil || agg.Version() != 5 {
				t.Fatalf("Load = %v, %v; want the aggregate at version 5", agg, err)
			}
			if got := f.events.lastFrom(); got != tt.wantFrom {
				t.Errorf("Load read from version %d, want %d", got, tt.wantFrom)
			}
		})
	}
}
