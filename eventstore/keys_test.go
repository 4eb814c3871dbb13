package eventstore_test

import (
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"buildledger/eventstore"
)

var keyFormat = regexp.MustCompile(`^\d{8}T\d{6}\d{3}\d{9}$`)

// steppingClock returns the times it is given, one per call, then the last one forever.
func steppingClock(times ...time.Time) func() time.Time {
	var mu sync.Mutex
	i := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := times[min(i, len(times)-1)]
		i++
		return t
	}
}

func mustGenerator(t *testing.T, now func() time.Time, node int) *eventstore.KeyGenerator {
	t.Helper()
	g, err := eventstore.NewKeyGeneratorWithNode(now, node)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestKeyGenerator(t *testing.T) {
	t0 := time.Date(2013, 9, 27, 0, 52, 40, 652_000_000, time.UTC)
	tests := []struct {
		name  string
		times []time.Time
		node  int
		calls int
		want  []string
	}{
		{
			name:  "given_one_call_then_seed_format_with_sequence_0_and_node",
			times: []time.Time{t0},
			node:  8176,
			calls: 1,
			want:  []string{"20130927T005240652000008176"},
		},
		{
			name:  "given_same_millisecond_then_sequence_counts_up",
			times: []time.Time{t0, t0.Add(300 * time.Microsecond), t0},
			node:  7,
			calls: 3,
			want:  []string{"20130927T005240652000000007", "20130927T005240652000010007", "20130927T005240652000020007"},
		},
		{
			name:  "given_clock_steps_back_then_last_millisecond_is_kept",
			times: []time.Time{t0, t0.Add(-time.Hour), t0.Add(time.Millisecond)},
			node:  1,
			calls: 3,
			want:  []string{"20130927T005240652000000001", "20130927T005240652000010001", "20130927T005240653000000001"},
		},
		{
			name:  "given_non_utc_clock_then_key_is_utc",
			times: []time.Time{t0.In(time.FixedZone("X", 5*3600))},
			calls: 1,
			want:  []string{"20130927T005240652000000000"},
		},
		{
			name:  "given_new_day_then_bucket_changes",
			times: []time.Time{time.Date(2024, 12, 31, 23, 59, 59, 999_000_000, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
			calls: 2,
			want:  []string{"20241231T235959999000000000", "20250101T000000000000000000"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustGenerator(t, steppingClock(tt.times...), tt.node)
			for i := range tt.calls {
				got := g.Next()
				if got != tt.want[i] {
					t.Errorf("call %d: got %s, want %s", i, got, tt.want[i])
				}
				if !keyFormat.MatchString(got) || len(got) != eventstore.KeyLength {
					t.Errorf("call %d: %s is not in the seed format", i, got)
				}
			}
		})
	}
}

func TestKeyGenerator_given_sequence_exhausted_then_carries_into_next_millisecond(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	g := mustGenerator(t, func() time.Time { return t0 }, 42)
	var last string
	for i := range 100_001 {
		k := g.Next()
		if k <= last {
			t.Fatalf("call %d: %s is not after %s", i, k, last)
		}
		last = k
	}
	if want := "20200101T000000001000000042"; last != want {
		t.Fatalf("key after 100,000 in one millisecond: got %s, want %s", last, want)
	}
}

func TestKeyGenerator_given_concurrent_callers_then_unique_and_increasing_per_caller(t *testing.T) {
	const goroutines, perGoroutine = 16, 2000
	g := eventstore.NewKeyGenerator(nil)
	results := make([][]string, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			keys := make([]string, perGoroutine)
			for j := range keys {
				keys[j] = g.Next()
			}
			results[i] = keys
		})
	}
	wg.Wait()
	seen := make(map[string]bool, goroutines*perGoroutine)
	for i, keys := range results {
		for j, k := range keys {
			if seen[k] {
				t.Fatalf("key %s returned twice", k)
			}
			seen[k] = true
			if j > 0 && k <= keys[j-1] {
				t.Fatalf("goroutine %d: %s is not after %s", i, k, keys[j-1])
			}
			if !keyFormat.MatchString(k) {
				t.Fatalf("%s is not in the seed format", k)
			}
		}
	}
}

func TestKeyGenerator_given_two_generators_same_instant_then_keys_differ(t *testing.T) {
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return t0 }
	a, b := mustGenerator(t, clock, 1), mustGenerator(t, clock, 2)
	if ka, kb := a.Next(), b.Next(); ka == kb {
		t.Fatalf("two nodes made the same key %s", ka)
	}
	r1, r2 := eventstore.NewKeyGenerator(clock), eventstore.NewKeyGenerator(clock)
	same := 0
	for range 100 {
		if r1.Next() == r2.Next() {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("random generators made %d equal keys of 100", same)
	}
}

func TestNewKeyGeneratorWithNode_given_node_out_of_range_then_invalid_input(t *testing.T) {
	for _, node := range []int{-1, 10_000} {
		if _, err := eventstore.NewKeyGeneratorWithNode(nil, node); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("node %d: got %v, want ErrInvalidInput", node, err)
		}
	}
}

func TestBucketAndParseKey(t *testing.T) {
	key := "20130927T005240652508858176"
	if got := eventstore.Bucket(key); got != "20130927" {
		t.Errorf("Bucket: got %s", got)
	}
	if got := eventstore.Bucket("2013"); got != "2013" {
		t.Errorf("Bucket of a short string: got %s", got)
	}
	got, err := eventstore.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2013, 9, 27, 0, 52, 40, 652_000_000, time.UTC); !got.Equal(want) {
		t.Errorf("ParseKey: got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "20130927T0052406525088581", "20130927X005240652508858176", "20131327T005240652508858176", "20130927T00524065250885817x"} {
		if _, err := eventstore.ParseKey(bad); !errors.Is(err, eventstore.ErrInvalidInput) {
			t.Errorf("ParseKey(%q): got %v, want ErrInvalidInput", bad, err)
		}
	}
}

func TestFirstKeyAt_given_a_time_then_the_smallest_key_of_its_millisecond(t *testing.T) {
	at := time.Date(2013, 9, 27, 0, 52, 40, 652_508_858, time.FixedZone("CET", 3600))
	if got, want := eventstore.FirstKeyAt(at), "20130926T235240652000000000"; got != want {
		t.Errorf("FirstKeyAt(%v) = %q, want %q", at, got, want)
	}
	g, err := eventstore.NewKeyGeneratorWithNode(func() time.Time { return at }, 42)
	if err != nil {
		t.Fatal(err)
	}
	if k := g.Next(); k < eventstore.FirstKeyAt(at) || k >= eventstore.FirstKeyAt(at.Add(time.Millisecond)) {
		t.Errorf("a key made at %v, %q, is outside its millisecond's range", at, k)
	}
}
