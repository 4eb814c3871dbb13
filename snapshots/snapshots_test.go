package snapshots_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"buildledger/snapshots"
)

func TestEveryN_Due(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n             snapshots.EveryN
		before, after int64
		want          bool
	}{
		{"given N=0 when the stream grows then never due", 0, 0, 100, false},
		{"given a negative N when the stream grows then never due", -5, 0, 100, false},
		{"given N=1 when one event is added then due", 1, 6, 7, true},
		{"given N=10 when the stream lands on 10 then due", 10, 9, 10, true},
		{"given N=10 when the stream starts empty and reaches 10 then due", 10, 0, 10, true},
		{"given N=10 when the stream stays below 10 then not due", 10, 0, 9, false},
		{"given N=10 when the stream leaves 10 then not due", 10, 10, 11, false},
		{"given N=10 when the stream goes from 10 to 19 then not due", 10, 10, 19, false},
		{"given N=10 when the stream jumps over 20 then due", 10, 15, 23, true},
		{"given N=10 when the stream crosses several multiples then due", 10, 5, 45, true},
		{"given N=10 when the version does not move then not due", 10, 20, 20, false},
		{"given N=10 when the version goes back then not due", 10, 25, 15, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.n.Due(tc.before, tc.after); got != tc.want {
				t.Errorf("EveryN(%d).Due(%d, %d) = %v, want %v", tc.n, tc.before, tc.after, got, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := snapshots.Snapshot{AggregateID: "repo:api/foo", Version: 1, Schema: 1, State: json.RawMessage(`{"foo":"bar"}`)}
	with := func(change func(*snapshots.Snapshot)) snapshots.Snapshot {
		s := valid
		change(&s)
		return s
	}
	for _, tc := range []struct {
		name     string
		s        snapshots.Snapshot
		problems []string // empty: valid
	}{
		{"given a complete snapshot then valid", valid, nil},
		{"given schema 0 and no createdAt then valid", with(func(s *snapshots.Snapshot) { s.Schema = 0 }), nil},
		{"given a JSON scalar state then valid", with(func(s *snapshots.Snapshot) { s.State = json.RawMessage(`null`) }), nil},
		{"given an empty aggregateId then invalid", with(func(s *snapshots.Snapshot) { s.AggregateID = "" }), []string{"aggregateId is empty"}},
		{"given version 0 then invalid", with(func(s *snapshots.Snapshot) { s.Version = 0 }), []string{"version 0 is below 1"}},
		{"given a negative version then invalid", with(func(s *snapshots.Snapshot) { s.Version = -2 }), []string{"version -2 is below 1"}},
		{"given no state then invalid", with(func(s *snapshots.Snapshot) { s.State = nil }), []string{"state is not JSON"}},
		{"given blank state then invalid", with(func(s *snapshots.Snapshot) { s.State = json.RawMessage("  ") }), []string{"state is not JSON"}},
		{"given truncated state then invalid", with(func(s *snapshots.Snapshot) { s.State = json.RawMessage(`{"foo":`) }), []string{"state is not JSON"}},
		{"given everything wrong then every problem is reported", snapshots.Snapshot{State: json.RawMessage(`nope`)},
			[]string{"aggregateId is empty", "version 0 is below 1", "state is not JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := snapshots.Validate(tc.s)
			if len(tc.problems) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, snapshots.ErrInvalidInput) {
				t.Fatalf("Validate: %v, want ErrInvalidInput", err)
			}
			for _, p := range tc.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("Validate: %q, want it to mention %q", err, p)
				}
			}
		})
	}
}

func TestUnusableError(t *testing.T) {
	err := error(&snapshots.UnusableError{AggregateID: "repo:a/b", Version: 3, Reason: "schema 1, want 2"})
	if !errors.Is(err, snapshots.ErrNotFound) {
		t.Error("UnusableError is not ErrNotFound")
	}
	if errors.Is(err, snapshots.ErrInvalidInput) {
		t.Error("UnusableError is ErrInvalidInput")
	}
	if want := "snapshots: unusable snapshot of repo:a/b at 3: schema 1, want 2"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}
