package dynamo

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
	"buildledger/internal/convert"
	"buildledger/internal/ddb"
)

// recordBuckets lists the day buckets of records in the buckets partition, and the shard
// counts they are written with in the time shards partition, once per day (and count) and
// process, before the records are written: ReadAll must never miss a bucket that holds
// events. Both writes are idempotent, so concurrent first writers are harmless.
func (s *Store) recordBuckets(ctx context.Context, records []eventstore.Record) error {
	lastDay, lastShards := "", 0
	for _, r := range records {
		b := eventstore.Bucket(r.Key)
		n := layout.ShardsFor(r.Stream, s.cfg.TimeShards)
		if b == lastDay && n == lastShards {
			continue // an append's events mostly share their day and stream
		}
		lastDay, lastShards = b, n
		day, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return fmt.Errorf("eventstore/dynamo: key %s has no day bucket: %w", r.Key, err)
		}
		if _, ok := s.buckets.Load(b); !ok {
			_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(s.cfg.EventsTable),
				Item:      eventKey(bucketsStream, day),
			})
			if err != nil {
				return fmt.Errorf("eventstore/dynamo: record day bucket %s: %w", b, err)
			}
			s.buckets.Store(b, struct{}{})
		}
		if n <= 1 {
			continue // the bare day, which readers always read
		}
		marker := b + "/" + strconv.Itoa(n)
		if _, ok := s.shards.Load(marker); ok {
			continue
		}
		// ADD to a set: writers of other counts on the same day keep theirs.
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.cfg.EventsTable),
			Key:                       eventKey(timeShardsStream, day),
			UpdateExpression:          aws.String("ADD #shards :n"),
			ExpressionAttributeNames:  map[string]string{"#shards": layout.Shards},
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(n)}}},
		})
		if err != nil {
			return fmt.Errorf("eventstore/dynamo: record %d time shards of day %s: %w", n, b, err)
		}
		s.shards.Store(marker, struct{}{})
	}
	return nil
}

// ReadAll implements eventstore.Store. It lists the day buckets from the one of after on and
// the shard counts written on them, then reads day by day: one Query per bucket of the day
// (its bare, unsharded bucket and each of its shards, at most ReadAllParallelism at once),
// merged in key order. Each Query asks for no more than the page still lacks, and a bucket
// is queried again only when the merge has taken all it returned, so a page costs at most
// limit items per bucket read.
//
// A page ends after exactly limit events, or at the end of the log; Next is the key of its
// last event when more may follow. Keys are unique, so reading on after Next (every bucket
// from the key after it) neither misses nor repeats an event.
//
// Warning: keys come from the writers' clocks and the index is eventually consistent, so an
// event can become visible after a reader has paged past its key. Readers that follow the
// store as it grows should stay a few seconds behind the present.
func (s *Store) ReadAll(ctx context.Context, after string, limit int) (eventstore.Page, error) {
	if limit <= 0 {
		return eventstore.Page{}, fmt.Errorf("%w: limit %d is not positive", eventstore.ErrInvalidInput, limit)
	}
	var first int64
	if after != "" {
		day, err := strconv.ParseInt(eventstore.Bucket(after), 10, 64)
		if err != nil || len(after) < 8 {
			return eventstore.Page{}, fmt.Errorf("%w: after %q does not start with a day YYYYMMDD", eventstore.ErrInvalidInput, after)
		}
		first = day
	}
	days, err := s.listBuckets(ctx, bucketsStream, first)
	if err != nil {
		return eventstore.Page{}, err
	}
	shards, err := s.listShards(ctx, first)
	if err != nil {
		return eventstore.Page{}, err
	}
	page := eventstore.Page{Records: []eventstore.Record{}}
	for i, d := range days {
		day := strconv.FormatInt(d.day, 10)
		dayAfter := ""
		if after != "" && day == eventstore.Bucket(after) {
			dayAfter = after
		}
		more, err := s.mergeDay(ctx, day, shards[d.day], dayAfter, limit, &page)
		if err != nil {
			return eventstore.Page{}, err
		}
		if len(page.Records) >= limit {
			if more || i < len(days)-1 {
				page.Next = page.Records[len(page.Records)-1].Key
			}
			return page, nil
		}
	}
	return page, nil
}

// bucketCursor is where the merge of a day stands in one of its buckets: the events a
// Query returned that the merge has not taken yet, and where the next Query starts.
type bucketCursor struct {
	bucket string
	in     *dynamodb.QueryInput
	recs   []eventstore.Record
	more   bool // the bucket has events after recs
}

// mergeDay appends to page, in key order, the events of day after after (all when empty)
// from every bucket of the day under shards shards, until the page holds limit events. It
// reports whether the day may hold more events than it appended.
func (s *Store) mergeDay(ctx context.Context, day string, shards int, after string, limit int, page *eventstore.Page) (more bool, err error) {
	buckets := layout.DayBuckets(day, shards)
	cursors := make([]*bucketCursor, len(buckets))
	for i, b := range buckets {
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.cfg.EventsTable),
			IndexName:                 aws.String(TimeIndex),
			KeyConditionExpression:    aws.String("#tb = :tb"),
			ExpressionAttributeNames:  map[string]string{"#tb": attrBucket},
			ExpressionAttributeValues: map[string]types.AttributeValue{":tb": str(b)},
			ScanIndexForward:          aws.Bool(true),
		}
		if after != "" {
			in.KeyConditionExpression = aws.String("#tb = :tb AND #key > :after")
			in.ExpressionAttributeNames["#key"] = attrKey
			in.ExpressionAttributeValues[":after"] = str(after)
		}
		cursors[i] = &bucketCursor{bucket: b, in: in, more: true}
	}
	for {
		// Every bucket that may hold more must show its next event before the smallest
		// can be chosen.
		var empty []*bucketCursor
		for _, c := range cursors {
			if len(c.recs) == 0 && c.more {
				empty = append(empty, c)
			}
		}
		want := limit - len(page.Records)
		if len(empty) > 0 {
			err := ddb.ForEach(ctx, s.cfg.ReadAllParallelism, empty, func(ctx context.Context, c *bucketCursor) error {
				return s.fill(ctx, c, want)
			})
			if err != nil {
				return false, err
			}
		}
		best := -1
		for i, c := range cursors {
			if len(c.recs) > 0 && (best < 0 || c.recs[0].Key < cursors[best].recs[0].Key) {
				best = i
			}
		}
		if best < 0 {
			return false, nil
		}
		c := cursors[best]
		page.Records = append(page.Records, c.recs[0])
		c.recs = c.recs[1:]
		if len(page.Records) >= limit {
			for _, c := range cursors {
				if len(c.recs) > 0 || c.more {
					return true, nil
				}
			}
			return false, nil
		}
	}
}

// fill queries c's bucket for up to want more events (at most 1,000 a page), following
// pages that come back empty, until it has one or the bucket has no more.
func (s *Store) fill(ctx context.Context, c *bucketCursor, want int) error {
	for len(c.recs) == 0 && c.more {
		c.in.Limit = aws.Int32(int32(min(want, 1000)))
		out, err := s.db.Query(ctx, c.in)
		if err != nil {
			return fmt.Errorf("eventstore/dynamo: read all in bucket %s: %w", c.bucket, err)
		}
		if c.recs, err = convert.All(c.recs, out.Items, decodeRecord); err != nil {
			return err
		}
		c.more = len(out.LastEvaluatedKey) > 0
		c.in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return nil
}

// dayItem is one day of a day list: its YYYYMMDD as a number, and the item's shard counts.
type dayItem struct {
	day    int64
	shards int // the largest count recorded, 0 when none
}

// listBuckets returns the days listed in partition stream from first on, in order.
func (s *Store) listBuckets(ctx context.Context, stream string, first int64) ([]dayItem, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.cfg.EventsTable),
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#stream = :stream AND #version >= :first"),
		ExpressionAttributeNames: map[string]string{"#stream": attrStream, "#version": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stream": str(stream), ":first": num(first),
		},
	}
	var days []dayItem
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("eventstore/dynamo: list days of %s: %w", stream, err)
		}
		for _, item := range out.Items {
			d := itemDecoder{item: item}
			di := dayItem{day: d.num(attrVersion, true)}
			if ns, ok := item[layout.Shards].(*types.AttributeValueMemberNS); ok {
				for _, v := range ns.Value {
					n, err := strconv.Atoi(v)
					if err != nil {
						d.fail(fmt.Errorf("attribute %s: %w", layout.Shards, err))
					}
					di.shards = max(di.shards, n)
				}
			}
			if d.err != nil {
				return nil, fmt.Errorf("eventstore/dynamo: list days of %s: %w", stream, d.err)
			}
			days = append(days, di)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return days, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// listShards returns the largest shard count recorded for each day from first on.
func (s *Store) listShards(ctx context.Context, first int64) (map[int64]int, error) {
	days, err := s.listBuckets(ctx, timeShardsStream, first)
	if err != nil {
		return nil, err
	}
	shards := make(map[int64]int, len(days))
	for _, d := range days {
		shards[d.day] = d.shards
	}
	return shards, nil
}
