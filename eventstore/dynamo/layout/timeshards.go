package layout

import (
	"hash/fnv"
	"strconv"
	"strings"

	"buildledger/eventstore"
)

// The time index (the events table's byTime index) is partitioned by time bucket. A bucket
// of one whole day would put every event of a day in one index partition, which DynamoDB
// caps near 1,000 writes a second, and a throttled index throttles the table. So a day is
// split into shards: an event's bucket is "YYYYMMDD#s", s being its stream's shard.
//
// Stored data is forever: events written before sharding have the bare day "YYYYMMDD" as
// their bucket, and a shard count of 1 still writes it, so readers always read a day's bare
// bucket besides its shards.
const (
	// ShardSeparator separates the day from the shard in a sharded bucket: "20261207#3".
	ShardSeparator = "#"
	// DefaultTimeShards is the shard count of a day when none is configured.
	DefaultTimeShards = 8
	// MaxTimeShards is the largest shard count: a reader queries each shard of a day.
	MaxTimeShards = 64
	// PutTimeShards is the fixed shard count of Put events ("put:" streams, one event
	// each), whatever the configured count: Put's writer knows no configuration.
	PutTimeShards = DefaultTimeShards
	// Shards is the attribute of a day's item in the time shards list: the set (NS) of shard
	// counts any writer used on that day. Readers read shards 0 to the largest minus one.
	Shards = "shards"
)

// Shard returns the shard of stream among shards: FNV-1a (32 bits) of the stream id, modulo
// shards. A stream's events all land in one shard, so their index order is their key order.
func Shard(stream string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream))
	return int(h.Sum32() % uint32(shards))
}

// ShardsFor returns the shard count an event of stream is written with when the store is
// configured with configured shards: PutTimeShards for Put events, configured otherwise.
func ShardsFor(stream string, configured int) int {
	if strings.HasPrefix(stream, eventstore.PutStreamPrefix) {
		return PutTimeShards
	}
	return configured
}

// TimeBucket returns the time index bucket of an event of stream with timestamp key key,
// written with shards shards: the bare day "YYYYMMDD" when shards is 1 (the unsharded
// layout), else "YYYYMMDD#s" with s = Shard(stream, shards).
func TimeBucket(stream, key string, shards int) string {
	day := eventstore.Bucket(key)
	if shards <= 1 {
		return day
	}
	return day + ShardSeparator + strconv.Itoa(Shard(stream, shards))
}

// DayBuckets returns every bucket that may hold events of day ("YYYYMMDD") when the largest
// shard count written on it is shards: the bare day first, then its shards in order.
func DayBuckets(day string, shards int) []string {
	buckets := []string{day}
	for s := 0; s < shards && shards > 1; s++ {
		buckets = append(buckets, day+ShardSeparator+strconv.Itoa(s))
	}
	return buckets
}
