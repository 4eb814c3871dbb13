package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/internal/convert"
)

// maxTransactItems is DynamoDB's limit on the items of one TransactWriteItems.
const maxTransactItems = 100

// Append implements eventstore.Store. It writes, in one transaction, a Put per event
// conditioned on its version slot being free, the command's outcome conditioned on its id
// being unused, and a check that the expected version exists (when expectedVersion > 0).
// When 99 events leave no room for that check in the transaction, the expected version is
// read (consistently) before it instead; versions are never deleted, so the read cannot go
// stale.
func (s *Store) Append(ctx context.Context, stream string, expectedVersion int64, events []eventstore.Event, cmd eventstore.CommandRef) ([]eventstore.Record, error) {
	return s.AppendWith(ctx, stream, expectedVersion, events, cmd, nil)
}

// Also returns writes of other tables to commit in the same transaction as the records of
// an append, as many as room leaves them (none: zero Carried).
type Also func(records []eventstore.Record, room Room) (Carried, error)

// Room is how many items the writes an append carries may add to its transaction.
type Room struct {
	// Items is the room beside the append's own items.
	Items int
	// Proving is the room of writes that prove the expected version (Carried.ProveExpected):
	// one more than Items when the append checks that version in the transaction, since the
	// check they replace leaves its slot to them.
	Proving int
}

// Carried are the writes an append carries along (see AppendWith).
type Carried struct {
	// Items are the writes, conditions included.
	Items []types.TransactWriteItem
	// ProveExpected says the Items' conditions hold only if the append's expected version
	// is stored (e.g. a read model's position at that version, which only that event's
	// commit writes): the append's own check of it is then left out of the transaction.
	ProveExpected bool
}

// ErrAlsoRefused means the writes an append carried (see AppendWith) did not hold their
// conditions: nothing was written, and the append alone may be tried again.
var ErrAlsoRefused = errors.New("eventstore/dynamo: the writes appended with the events were refused")

// AppendWith appends as Append does, and commits in the same transaction what also returns
// for the records (when also is not nil and returns items). A failed condition of those
// items alone is ErrAlsoRefused; a used command id or a taken version is reported as by
// Append.
func (s *Store) AppendWith(ctx context.Context, stream string, expectedVersion int64, events []eventstore.Event, cmd eventstore.CommandRef, also Also) ([]eventstore.Record, error) {
	if err := eventstore.ValidateAppend(stream, expectedVersion, events, cmd); err != nil {
		return nil, err
	}
	at := s.clock()
	records := eventstore.NewRecords(stream, expectedVersion, events, cmd, at, s.keys)
	items := make([]types.TransactWriteItem, 0, len(events)+2)
	roles := make([]itemRole, 0, len(events)+2)
	sizes := make([]int, len(records))
	for i, r := range records {
		item := eventItemSharded(r, s.cfg.TimeShards)
		sizes[i] = itemSize(item)
		items = append(items, types.TransactWriteItem{Put: putNew(s.cfg.EventsTable, item, attrStream)})
		roles = append(roles, roleEvent)
	}
	out := eventstore.AcceptedOutcome(cmd, stream, expectedVersion, records, at)
	outItem := outcomeItem(out)
	if err := eventstore.CheckAppendSize(records, sizes, out, itemSize(outItem)); err != nil {
		return nil, err
	}
	items = append(items, types.TransactWriteItem{Put: putNew(s.cfg.CommandsTable, outItem, attrCommandID)})
	roles = append(roles, roleOutcome)

	target := writeTarget{stream: stream, expectedVersion: expectedVersion, commandID: cmd.ID}
	if expectedVersion > 0 {
		if len(items) < maxTransactItems {
			items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName:                aws.String(s.cfg.EventsTable),
				Key:                      eventKey(stream, expectedVersion),
				ConditionExpression:      aws.String("attribute_exists(#stream)"),
				ExpressionAttributeNames: map[string]string{"#stream": attrStream},
			}})
			roles = append(roles, roleExpectedCheck)
		} else if err := s.checkVersionExists(ctx, target); err != nil {
			return nil, err
		}
	}
	if also != nil {
		var err error
		if items, roles, err = carry(also, records, items, roles); err != nil {
			return nil, fmt.Errorf("eventstore/dynamo: append to %s: %w", stream, err)
		}
	}
	if err := s.recordBuckets(ctx, records); err != nil {
		return nil, err
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err != nil {
		return nil, translateWriteError(err, "append to "+stream, roles, target)
	}
	return records, nil
}

// checkVersionExists is the expected-version check done outside the transaction. It
// returns ConflictError when the version is missing, or DuplicateCommandError when the
// command id is used as well.
func (s *Store) checkVersionExists(ctx context.Context, t writeTarget) error {
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:            aws.String(s.cfg.EventsTable),
		Key:                  eventKey(t.stream, t.expectedVersion),
		ConsistentRead:       aws.Bool(true),
		ProjectionExpression: aws.String("#version"),
		ExpressionAttributeNames: map[string]string{
			"#version": attrVersion,
		},
	})
	if err != nil {
		return fmt.Errorf("eventstore/dynamo: check %s is at %d: %w", t.stream, t.expectedVersion, err)
	}
	if len(got.Item) > 0 {
		return nil
	}
	// As in the transaction, a used command id wins over the conflict.
	cmd, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.cfg.CommandsTable),
		Key:                      map[string]types.AttributeValue{attrCommandID: str(t.commandID)},
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#id"),
		ExpressionAttributeNames: map[string]string{"#id": attrCommandID},
	})
	if err != nil {
		return fmt.Errorf("eventstore/dynamo: check command %s: %w", t.commandID, err)
	}
	if len(cmd.Item) > 0 {
		return &eventstore.DuplicateCommandError{CommandID: t.commandID}
	}
	return &eventstore.ConflictError{Stream: t.stream, ExpectedVersion: t.expectedVersion}
}

// Load implements eventstore.Store.
func (s *Store) Load(ctx context.Context, stream string, fromVersion int64) ([]eventstore.Record, error) {
	if stream == "" {
		return nil, fmt.Errorf("%w: stream is empty", eventstore.ErrInvalidInput)
	}
	return s.queryStream(ctx, stream, &dynamodb.QueryInput{
		KeyConditionExpression: aws.String("#stream = :stream AND #version >= :from"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stream": str(stream), ":from": num(fromVersion),
		},
	})
}

// LoadRange implements eventstore.Store.
func (s *Store) LoadRange(ctx context.Context, stream string, fromVersion, toVersion int64) ([]eventstore.Record, error) {
	if stream == "" {
		return nil, fmt.Errorf("%w: stream is empty", eventstore.ErrInvalidInput)
	}
	if fromVersion > toVersion {
		return []eventstore.Record{}, nil
	}
	return s.queryStream(ctx, stream, &dynamodb.QueryInput{
		KeyConditionExpression: aws.String("#stream = :stream AND #version BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stream": str(stream), ":from": num(fromVersion), ":to": num(toVersion),
		},
	})
}

// queryStream runs a consistent query over one stream in version order and follows every
// page, so that a stream larger than one 1 MB page loads whole.
func (s *Store) queryStream(ctx context.Context, stream string, in *dynamodb.QueryInput) ([]eventstore.Record, error) {
	in.TableName = aws.String(s.cfg.EventsTable)
	in.ConsistentRead = aws.Bool(true)
	in.ExpressionAttributeNames = map[string]string{"#stream": attrStream, "#version": attrVersion}
	records := []eventstore.Record{}
	for {
		page, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("eventstore/dynamo: load %s: %w", stream, err)
		}
		if records, err = convert.All(records, page.Items, decodeRecord); err != nil {
			return nil, err
		}
		if len(page.LastEvaluatedKey) == 0 {
			return records, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Version implements eventstore.Store.
func (s *Store) Version(ctx context.Context, stream string) (int64, error) {
	if stream == "" {
		return 0, fmt.Errorf("%w: stream is empty", eventstore.ErrInvalidInput)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.cfg.EventsTable),
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#stream = :stream"),
		ExpressionAttributeNames: map[string]string{"#stream": attrStream, "#version": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stream": str(stream),
		},
		ProjectionExpression: aws.String("#version"),
		ScanIndexForward:     aws.Bool(false),
		Limit:                aws.Int32(1),
	})
	if err != nil {
		return 0, fmt.Errorf("eventstore/dynamo: version of %s: %w", stream, err)
	}
	if len(out.Items) == 0 {
		return 0, nil
	}
	d := itemDecoder{item: out.Items[0]}
	v := d.num(attrVersion, true)
	if d.err != nil {
		return 0, fmt.Errorf("eventstore/dynamo: version of %s: %w", stream, d.err)
	}
	return v, nil
}

// putNew writes item into table unless an item with its key exists; keyAttr is the table's
// partition key.
func putNew(table string, item map[string]types.AttributeValue, keyAttr string) *types.Put {
	return &types.Put{
		TableName:                aws.String(table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#key)"),
		ExpressionAttributeNames: map[string]string{"#key": keyAttr},
	}
}

// RecordOutcome implements eventstore.Store.
func (s *Store) RecordOutcome(ctx context.Context, o eventstore.Outcome) error {
	if err := eventstore.ValidateOutcome(o); err != nil {
		return err
	}
	if o.RecordedAt.IsZero() {
		o.RecordedAt = s.clock()
	}
	item := outcomeItem(o)
	if err := eventstore.CheckOutcomeSize(o, itemSize(item)); err != nil {
		return err
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.cfg.CommandsTable),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": attrCommandID},
	})
	return translateWriteError(err, "record outcome of "+o.CommandID, []itemRole{roleOutcome}, writeTarget{stream: o.Stream, commandID: o.CommandID})
}

// Outcome implements eventstore.Store.
func (s *Store) Outcome(ctx context.Context, commandID string) (eventstore.Outcome, error) {
	if commandID == "" {
		return eventstore.Outcome{}, fmt.Errorf("%w: command id is empty", eventstore.ErrInvalidInput)
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.cfg.CommandsTable),
		Key:            map[string]types.AttributeValue{attrCommandID: str(commandID)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return eventstore.Outcome{}, fmt.Errorf("eventstore/dynamo: outcome of %s: %w", commandID, err)
	}
	if len(out.Item) == 0 {
		return eventstore.Outcome{}, fmt.Errorf("eventstore/dynamo: outcome of %s: %w", commandID, eventstore.ErrNotFound)
	}
	return decodeOutcome(out.Item)
}

// carry adds what also returns for records to the transaction's items and roles, leaving
// out the expected-version check when the carried writes prove it.
func carry(also Also, records []eventstore.Record, items []types.TransactWriteItem, roles []itemRole) ([]types.TransactWriteItem, []itemRole, error) {
	room := Room{Items: maxTransactItems - len(items)}
	room.Proving = room.Items
	if roles[len(roles)-1] == roleExpectedCheck {
		room.Proving++
	}
	c, err := also(records, room)
	if err != nil || len(c.Items) == 0 {
		return items, roles, err
	}
	if c.ProveExpected && roles[len(roles)-1] == roleExpectedCheck {
		items, roles = items[:len(items)-1], roles[:len(roles)-1]
	}
	if len(items)+len(c.Items) > maxTransactItems {
		return nil, nil, fmt.Errorf("%d items do not fit the transaction", len(items)+len(c.Items))
	}
	items = append(items, c.Items...)
	for range c.Items {
		roles = append(roles, roleAlso)
	}
	return items, roles, nil
}
