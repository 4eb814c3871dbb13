package main

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
)

// partitionWriteCap is about how many writes a second one DynamoDB partition takes (1,000
// write units of items up to 1 KB); an index partition past it throttles the table.
const partitionWriteCap = 1000

// indexLoad is how index writes spread over time index partitions (values of "tb").
type indexLoad struct {
	writes     int
	hottest    string // the partition with the most writes
	hottestN   int
	partitions int
	peakHot    int // the most writes one partition took in one second
	peakTotal  int // the most writes of any second
}

// share is the hottest partition's share of all index writes.
func (l indexLoad) share() float64 {
	if l.writes == 0 {
		return 0
	}
	return float64(l.hottestN) / float64(l.writes)
}

// indexWrite is one event item as the time index sees it: its stream, key and bucket.
type indexWrite struct{ stream, key, bucket string }

// measureIndexLoad counts writes per partition and per second (the second of each event's
// timestamp key, the writer's clock when it wrote) with bucket giving each write's partition.
func measureIndexLoad(ws []indexWrite, bucket func(indexWrite) string) indexLoad {
	l := indexLoad{writes: len(ws)}
	total := map[string]int{}
	perSecond := map[string]int{}
	perTB := map[string]int{}
	for _, w := range ws {
		tb := bucket(w)
		total[tb]++
		sec := w.key // a key that does not parse counts alone
		if t, err := eventstore.ParseKey(w.key); err == nil {
			sec = t.Truncate(time.Second).Format(time.DateTime)
		}
		perSecond[sec+" "+tb]++
		perTB[sec]++
		l.peakHot = max(l.peakHot, perSecond[sec+" "+tb])
		l.peakTotal = max(l.peakTotal, perTB[sec])
	}
	for tb, n := range total {
		if n > l.hottestN || (n == l.hottestN && tb < l.hottest) {
			l.hottest, l.hottestN = tb, n
		}
	}
	l.partitions = len(total)
	return l
}

// scanIndexWrites reads every item of the events table that the time index holds.
func scanIndexWrites(ctx context.Context, db *dynamodb.Client, table string) ([]indexWrite, error) {
	var ws []indexWrite
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			tb, ok := it[layout.Bucket].(*types.AttributeValueMemberS)
			if !ok {
				continue // the store's own lists, outside the index
			}
			st, _ := it[layout.Stream].(*types.AttributeValueMemberS)
			k, _ := it[layout.Key].(*types.AttributeValueMemberS)
			if st == nil || k == nil {
				return nil, fmt.Errorf("scan %s: an indexed item without stream or key", table)
			}
			ws = append(ws, indexWrite{stream: st.Value, key: k.Value, bucket: tb.Value})
		}
	}
	return ws, nil
}

// timeIndexFigure reports how the end-to-end run's events spread over time index
// partitions: as the worker wrote them (its configured shards) against the same events
// bucketed as before sharding (one partition a day, computed with layout.TimeBucket at one
// shard, which is what TimeShards 1 writes). Its notes and extra numbers add the same
// measured on a short round against an installation with TimeShards 1 (measureOneShard).
func timeIndexFigure(ctx context.Context, e *environment, eventsTable string, shards int) (Figure, error) {
	ws, err := scanIndexWrites(ctx, e.db, eventsTable)
	if err != nil {
		return Figure{}, err
	}
	round, err := measureOneShard(ctx, e)
	if err != nil {
		return Figure{}, err
	}
	sharded := measureIndexLoad(ws, func(w indexWrite) string { return w.bucket })
	unsharded := measureIndexLoad(ws, func(w indexWrite) string { return layout.TimeBucket(w.stream, w.key, 1) })
	f := newFigure(fmt.Sprintf("Time index, hottest partition's share of the end to end run's index writes, %d shards vs 1", shards), "%",
		100*sharded.share(), 100*unsharded.share(), 0, true)
	f.Notes = fmt.Sprintf("%d index writes (one per event); %d shards: %d partitions, hottest %s, at most %d writes/s on one partition of %d/s in all; 1 shard (the bare day, as before sharding): %d partition(s), hottest %s, at most %d/s of %d/s; at about %d writes/s per partition the system caps near %.0f events/s sharded vs %.0f unsharded",
		len(ws), shards, sharded.partitions, sharded.hottest, sharded.peakHot, sharded.peakTotal,
		unsharded.partitions, unsharded.hottest, unsharded.peakHot, unsharded.peakTotal,
		partitionWriteCap, capOf(sharded), capOf(unsharded))
	f.Extra = map[string]float64{
		"index_writes":               float64(len(ws)),
		"shards":                     float64(shards),
		"sharded_partitions":         float64(sharded.partitions),
		"sharded_peak_hot_per_s":     float64(sharded.peakHot),
		"unsharded_peak_hot_per_s":   float64(unsharded.peakHot),
		"peak_writes_per_s":          float64(sharded.peakTotal),
		"sharded_cap_events_per_s":   capOf(sharded),
		"unsharded_cap_events_per_s": capOf(unsharded),
	}
	addOneShard(&f, round)
	return f, nil
}

// capOf is the events per second the system takes before the hottest partition of l
// reaches partitionWriteCap.
func capOf(l indexLoad) float64 {
	if l.share() == 0 {
		return 0
	}
	return partitionWriteCap / l.share()
}

// addOneShard adds to f, the time index figure, what the round at one shard measured.
func addOneShard(f *Figure, r oneShardRound) {
	l := measureIndexLoad(r.writes, func(w indexWrite) string { return w.bucket })
	f.Notes += fmt.Sprintf("; measured at 1 shard (an installation with TimeShards 1, %d commands on the same streams, %s commands/s): %d index writes, %d partition(s), hottest %s with %s of them, at most %d writes/s on it of %d/s in all, a cap near %.0f events/s",
		r.commands, formatValue(r.rate(), ""), len(r.writes), l.partitions, l.hottest, formatValue(100*l.share(), "%"), l.peakHot, l.peakTotal, capOf(l))
	f.Extra["measured_1shard_commands"] = float64(r.commands)
	f.Extra["measured_1shard_commands_per_s"] = r.rate()
	f.Extra["measured_1shard_index_writes"] = float64(len(r.writes))
	f.Extra["measured_1shard_partitions"] = float64(l.partitions)
	f.Extra["measured_1shard_hottest_share"] = l.share()
	f.Extra["measured_1shard_peak_hot_per_s"] = float64(l.peakHot)
	f.Extra["measured_1shard_peak_writes_per_s"] = float64(l.peakTotal)
	f.Extra["measured_1shard_cap_events_per_s"] = capOf(l)
}
