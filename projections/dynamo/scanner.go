package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
)

// Attributes of the events table (see eventstore/dynamo).
const (
	evStream        = "stream"
	evVersion       = "version"
	evKey           = "key"
	evType          = "type"
	evBody          = "body"
	evCommandID     = "commandId"
	evCorrelationID = "correlationId"
	evCausationID   = "causationId"
	evRecordedAt    = "recordedAt"
)

// ScanSegments implements projections.EventScanner on the events table: a parallel Scan of
// segments segments, each following LastEvaluatedKey; fn is called concurrently, once per
// page, with the page's events. Items of the store's own streams ("$…") are skipped; Put
// events ("put:…" streams) are passed on like any other.
//
// DynamoDB puts every item of a partition in the same segment and returns a partition's
// items in sort key order, so a stream's events arrive in one segment, in version order.
func (s *Store) ScanSegments(ctx context.Context, segments int, fn func(segment int, recs []eventstore.Record) error) error {
	if s.cfg.EventsTable == "" {
		return errors.New("projections/dynamo: scan events: Config.EventsTable is empty")
	}
	if segments < 1 || segments > 1_000_000 {
		return fmt.Errorf("projections/dynamo: scan events: %d segments", segments)
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
			return fmt.Errorf("projections/dynamo: scan events segment %d: %w", seg, err)
		}
		recs := make([]eventstore.Record, 0, len(page.Items))
		for _, item := range page.Items {
			if st, ok := item[evStream].(*types.AttributeValueMemberS); ok && strings.HasPrefix(st.Value, eventstore.ReservedStreamPrefix) {
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

// EstimateEvents implements projections.EventCounter with the events table's item count,
// which DynamoDB refreshes about every six hours.
func (s *Store) EstimateEvents(ctx context.Context) (int64, error) {
	if s.cfg.EventsTable == "" {
		return -1, errors.New("projections/dynamo: estimate events: Config.EventsTable is empty")
	}
	out, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.cfg.EventsTable)})
	if err != nil {
		return -1, fmt.Errorf("projections/dynamo: describe %s: %w", s.cfg.EventsTable, err)
	}
	return aws.ToInt64(out.Table.ItemCount), nil
}

func decodeRecord(item map[string]types.AttributeValue) (eventstore.Record, error) {
	var problems []string
	str := func(name string, required bool) string {
		switch v := item[name].(type) {
		case *types.AttributeValueMemberS:
			return v.Value
		case nil:
			if required {
				problems = append(problems, name+" is missing")
			}
		default:
			problems = append(problems, fmt.Sprintf("%s is %T", name, v))
		}
		return ""
	}
	r := eventstore.Record{
		Stream:    str(evStream, true),
		Key:       str(evKey, true),
		Type:      str(evType, true),
		Body:      json.RawMessage(str(evBody, true)),
		CommandID: str(evCommandID, false),
		Metadata: eventstore.Metadata{
			CorrelationID: str(evCorrelationID, false),
			CausationID:   str(evCausationID, false),
		},
	}
	if v, ok := item[evVersion].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			problems = append(problems, "version: "+err.Error())
		}
		r.Version = n
	} else {
		problems = append(problems, "version is missing or not a number")
	}
	if at := str(evRecordedAt, false); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			problems = append(problems, "recordedAt: "+err.Error())
		}
		r.RecordedAt = t.UTC()
	}
	if len(problems) > 0 {
		return eventstore.Record{}, fmt.Errorf("projections/dynamo: decode event %s@%d: %s", r.Stream, r.Version, strings.Join(problems, "; "))
	}
	return r, nil
}
