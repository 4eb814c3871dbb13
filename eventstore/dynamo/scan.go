package dynamo

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
)

// maxScanSegments is DynamoDB's limit on TotalSegments.
const maxScanSegments = 1_000_000

// ScanSegments reads every event of the events table with a parallel Scan of segments
// segments, each following LastEvaluatedKey; fn is called concurrently, once per page, with
// the page's events. Items of the store's own streams ("$…") are skipped; Put events
// ("put:…" streams) are passed on like any other.
//
// DynamoDB puts every item of a partition in the same segment and returns a partition's
// items in sort key order, so a stream's events arrive in one segment, in version order.
func (s *Store) ScanSegments(ctx context.Context, segments int, fn func(segment int, recs []eventstore.Record) error) error {
	if segments < 1 || segments > maxScanSegments {
		return fmt.Errorf("%w: scan of %d segments, want 1..%d", eventstore.ErrInvalidInput, segments, maxScanSegments)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for seg := range segments {
		wg.Go(func() {
			if err := s.scanSegment(ctx, seg, segments, fn); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func (s *Store) scanSegment(ctx context.Context, seg, segments int, fn func(int, []eventstore.Record) error) error {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:     aws.String(s.cfg.EventsTable),
		Segment:       aws.Int32(int32(seg)),
		TotalSegments: aws.Int32(int32(segments)),
		Limit:         aws.Int32(int32(s.cfg.ScanPageSize)),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("eventstore/dynamo: scan events segment %d: %w", seg, err)
		}
		recs := make([]eventstore.Record, 0, len(page.Items))
		for _, item := range page.Items {
			if st, ok := item[attrStream].(*types.AttributeValueMemberS); ok && strings.HasPrefix(st.Value, eventstore.ReservedStreamPrefix) {
				continue
			}
			r, err := decodeRecord(item)
			if err != nil {
				return err
			}
			recs = append(recs, r)
		}
		if len(recs) == 0 {
			continue
		}
		if err := fn(seg, recs); err != nil {
			return err
		}
	}
	return nil
}

// EstimateEvents returns the events table's item count, which DynamoDB refreshes about
// every six hours: good for progress reports, not for counting.
func (s *Store) EstimateEvents(ctx context.Context) (int64, error) {
	out, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.cfg.EventsTable)})
	if err != nil {
		return -1, fmt.Errorf("eventstore/dynamo: describe %s: %w", s.cfg.EventsTable, err)
	}
	return aws.ToInt64(out.Table.ItemCount), nil
}
