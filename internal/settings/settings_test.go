package settings_test

import (
	"errors"
	"testing"
	"time"

	"buildledger/internal/settings"
)

func TestDefaults(t *testing.T) {
	clock := func() time.Time { return time.Unix(1, 0) }
	tests := []struct {
		name string
		when func() any
		want any
	}{
		{"given a zero count then the default", func() any { n := 0; settings.Default(&n, 8); return n }, 8},
		{"given a set count then it stays", func() any { n := 3; settings.Default(&n, 8); return n }, 3},
		{"given a negative count then it stays", func() any { n := -1; settings.Default(&n, 8); return n }, -1},
		{"given an empty string then the default", func() any { s := ""; settings.Default(&s, "x"); return s }, "x"},
		{"given a nil clock then the default", func() any {
			var now func() time.Time
			settings.DefaultFunc(&now, clock)
			return now()
		}, time.Unix(1, 0)},
		{"given a set clock then it stays", func() any {
			now := func() time.Time { return time.Unix(2, 0) }
			settings.DefaultFunc(&now, clock)
			return now()
		}, time.Unix(2, 0)},
		{"given a negative duration unless positive then the default", func() any {
			d := -time.Second
			settings.DefaultUnlessPositive(&d, time.Minute)
			return d
		}, time.Minute},
		{"given a zero size unless positive then the default", func() any {
			n := 0
			settings.DefaultUnlessPositive(&n, 5)
			return n
		}, 5},
		{"given a positive size unless positive then it stays", func() any {
			n := 2
			settings.DefaultUnlessPositive(&n, 5)
			return n
		}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.when(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProblems(t *testing.T) {
	nested := errors.New("nested: config: X is nil")
	tests := []struct {
		name  string
		given *settings.Problems
		when  func(p *settings.Problems)
		want  string // "" for no error
	}{
		{"given no problem then nil", settings.Prefixed("feed: config"), func(p *settings.Problems) {
			p.If(false, "Events is nil")
			settings.AtLeast(p, "PageSize", 1, 1)
			settings.Within(p, "Shards", 64, 1, 64)
			settings.Positive(p, "Poll", time.Millisecond)
			settings.NotNegative(p, "Settle", 0*time.Second)
			p.Add(nil)
		}, ""},
		{"given prefixed problems then each carries the prefix", settings.Prefixed("feed: config"), func(p *settings.Problems) {
			p.If(true, "Events is nil")
			p.If(true, "EventsTable and CommandsTable are both %q", "t")
		}, "feed: config: Events is nil\nfeed: config: EventsTable and CommandsTable are both \"t\""},
		{"given no prefix then the problems alone", settings.Prefixed(""), func(p *settings.Problems) {
			p.If(true, "client is nil")
			p.If(true, "now is nil")
		}, "client is nil\nnow is nil"},
		{"given wrapped problems then the prefix once", settings.Wrapped("handlers: worker config"), func(p *settings.Problems) {
			p.If(true, "Publisher is required")
			p.Add(nested)
		}, "handlers: worker config: Publisher is required\nnested: config: X is nil"},
		{"given the range checks then their wording", settings.Prefixed("p"), func(p *settings.Problems) {
			settings.AtLeast(p, "PageSize", 0, 1)
			settings.AtLeast(p, "LeaseTTL", 500*time.Millisecond, time.Second)
			settings.Within(p, "PutBatchSize", 26, 1, 25)
			settings.Positive(p, "PollInterval", 0*time.Second)
			settings.NotNegative(p, "Settle", -time.Second)
			settings.NotNegative(p, "Retries", -2)
		}, "p: PageSize 0 is below 1\np: LeaseTTL 500ms is below 1s\np: PutBatchSize 26 is outside 1..25\n" +
			"p: PollInterval 0s is not positive\np: Settle -1s is negative\np: Retries -2 is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.when(tc.given)
			err := tc.given.Err()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Err = %q, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestProblems_GivenANestedError_ThenErrorsIsFindsIt(t *testing.T) {
	nested := errors.New("nested")
	for _, p := range []*settings.Problems{settings.Prefixed("a"), settings.Wrapped("a")} {
		p.If(true, "first")
		p.Add(nested)
		if err := p.Err(); !errors.Is(err, nested) {
			t.Errorf("errors.Is(%q, nested) = false, want true", err)
		}
	}
}
