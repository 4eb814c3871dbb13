package main

import (
	"strings"
	"testing"
	"time"
)

func TestAddOneShard_given_a_round_then_its_load_in_the_notes_and_extra(t *testing.T) {
	f := Figure{Notes: "computed", Extra: map[string]float64{"shards": 8}}
	r := oneShardRound{commands: 4, took: 2 * time.Second, writes: []indexWrite{
		{stream: "a", key: "20261207T000000000000000001", bucket: "20261207"},
		{stream: "b", key: "20261207T000000500000000001", bucket: "20261207"},
		{stream: "c", key: "20261207T000001000000000001", bucket: "20261207"},
		{stream: "d", key: "20261207T000001000000000002", bucket: "20261207"},
	}}
	addOneShard(&f, r)
	want := map[string]float64{
		"shards": 8, "measured_1shard_commands": 4, "measured_1shard_commands_per_s": 2, "measured_1shard_index_writes": 4,
		"measured_1shard_partitions": 1, "measured_1shard_hottest_share": 1, "measured_1shard_peak_hot_per_s": 2,
		"measured_1shard_peak_writes_per_s": 2, "measured_1shard_cap_events_per_s": partitionWriteCap,
	}
	for k, v := range want {
		if f.Extra[k] != v {
			t.Errorf("extra %s = %v, want %v", k, f.Extra[k], v)
		}
	}
	if !strings.HasPrefix(f.Notes, "computed; measured at 1 shard") || !strings.Contains(f.Notes, "at most 2 writes/s on it of 2/s in all") {
		t.Errorf("notes %q", f.Notes)
	}
}
