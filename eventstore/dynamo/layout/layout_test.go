package layout_test

import (
	"slices"
	"strconv"
	"testing"

	"buildledger/eventstore/dynamo/layout"
)

func TestNumberSize(t *testing.T) {
	for n, want := range map[int64]int{0: 2, 1: 2, 9: 2, 10: 2, 12: 2, 123: 3, 1000: 2, 1234: 3, 12345: 4, -12: 2, 20130927: 5} {
		if got := layout.NumberSize(n); got != want {
			t.Errorf("NumberSize(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestTimeBucket(t *testing.T) {
	const key = "20261207T065628123000000001"
	for _, tc := range []struct {
		name   string
		stream string
		shards int
		want   string
	}{
		{name: "given_one_shard_then_the_bare_day_as_before_sharding", stream: "repo:a/b", shards: 1, want: "20261207"},
		{name: "given_8_shards_then_day_and_fnv1a_shard", stream: "repo:a/b", shards: 8, want: "20261207#" + strconv.Itoa(layout.Shard("repo:a/b", 8))},
		{name: "given_a_put_stream_then_put_shards_whatever_configured", stream: "put:" + key, shards: 1, want: "20261207#" + strconv.Itoa(layout.Shard("put:"+key, layout.PutTimeShards))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := layout.TimeBucket(tc.stream, key, layout.ShardsFor(tc.stream, tc.shards)); got != tc.want {
				t.Errorf("TimeBucket = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestShard_given_many_streams_then_stable_and_spread(t *testing.T) {
	// Pinned: a shard moving between versions would not lose events (readers read every
	// shard of a day) but would change which partition is hot.
	if got := layout.Shard("repo:api/foo", 8); got != layout.Shard("repo:api/foo", 8) {
		t.Fatal("Shard is not stable")
	}
	counts := make([]int, 8)
	for i := range 800 {
		counts[layout.Shard("repo:u/r"+strconv.Itoa(i), 8)]++
	}
	for s, n := range counts {
		if n < 60 || n > 140 {
			t.Errorf("shard %d holds %d of 800 streams, want about 100", s, n)
		}
	}
}

func TestDayBuckets(t *testing.T) {
	if got := layout.DayBuckets("20261207", 1); !slices.Equal(got, []string{"20261207"}) {
		t.Errorf("one shard: %v", got)
	}
	if got := layout.DayBuckets("20261207", 3); !slices.Equal(got, []string{"20261207", "20261207#0", "20261207#1", "20261207#2"}) {
		t.Errorf("three shards: %v", got)
	}
}
