package memory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/eventstore/eventstoretest"
	"buildledger/eventstore/memory"
)

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store { return memory.New() })
}

func TestNewWithClock_given_fixed_clock_then_same_keys_every_run(t *testing.T) {
	at := time.Date(2013, 9, 27, 0, 52, 40, 652_000_000, time.UTC)
	var runs [2][]string
	for i := range runs {
		st := memory.NewWithClock(func() time.Time { return at })
		records, err := st.Append(context.Background(), "repo:a/b", 0,
			[]eventstore.Event{{Type: "A", Body: json.RawMessage(`{}`)}, {Type: "B", Body: json.RawMessage(`{}`)}},
			eventstore.CommandRef{ID: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		key, err := st.Put(context.Background(), json.RawMessage(`{"my":"event"}`))
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = []string{records[0].Key, records[1].Key, key}
		if !records[0].RecordedAt.Equal(at) {
			t.Errorf("recordedAt %v, want %v", records[0].RecordedAt, at)
		}
	}
	want := []string{"20130927T005240652000000000", "20130927T005240652000010000", "20130927T005240652000020000"}
	for i := range want {
		if runs[0][i] != want[i] || runs[1][i] != want[i] {
			t.Errorf("key %d: runs gave %s and %s, want %s", i, runs[0][i], runs[1][i], want[i])
		}
	}
}
