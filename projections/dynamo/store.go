package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/backoff"
	"buildledger/internal/convert"
	"buildledger/internal/ddb"
	"buildledger/projections"
)

// Get implements projections.Store: GetItem for one key, TransactGetItems for up to
// maxTransactGet (one snapshot), BatchGetItem for more, strongly consistent every way.
func (s *Store) Get(ctx context.Context, keys []projections.Key) (map[projections.Key]projections.Item, error) {
	for _, k := range keys {
		if err := projections.CheckKey(k); err != nil {
			return nil, err
		}
	}
	if len(keys) == 1 {
		return s.getOne(ctx, keys[0])
	}
	tables := map[string]projections.Table{}
	seen := map[projections.Key]bool{}
	var unique []projections.Key
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, k)
			tables[s.name(k.Table)] = k.Table
		}
	}
	switch {
	case len(unique) == 0:
		return map[projections.Key]projections.Item{}, nil
	case len(unique) <= maxTransactGet:
		return s.getIsolated(ctx, unique)
	}
	out := make(map[projections.Key]projections.Item, len(unique))
	for start := 0; start < len(unique); start += maxBatchGet {
		if err := s.batchGet(ctx, unique[start:min(start+maxBatchGet, len(unique))], tables, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) getOne(ctx context.Context, k projections.Key) (map[projections.Key]projections.Item, error) {
	ka, err := keyAttrs(k)
	if err != nil {
		return nil, err
	}
	res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.name(k.Table)), Key: ka, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, translate(err, "get "+k.String())
	}
	out := map[projections.Key]projections.Item{}
	if res.Item != nil {
		it, err := fromAttrs(res.Item)
		if err != nil {
			return nil, err
		}
		out[k] = it
	}
	return out, nil
}

// batchGet reads keys (at most maxBatchGet) with BatchGetItem into out, reading again,
// with backoff, the keys DynamoDB leaves unprocessed.
func (s *Store) batchGet(ctx context.Context, keys []projections.Key, tables map[string]projections.Table, out map[projections.Key]projections.Item) error {
	req := map[string]types.KeysAndAttributes{}
	for _, k := range keys {
		ka, err := keyAttrs(k)
		if err != nil {
			return err
		}
		name := s.name(k.Table)
		r := req[name]
		r.Keys = append(r.Keys, ka)
		r.ConsistentRead = aws.Bool(true)
		req[name] = r
	}
	return untilProcessed(ctx, s, "batch get: keys", req, func(req map[string]types.KeysAndAttributes) (map[string]types.KeysAndAttributes, error) {
		res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, translate(err, "batch get")
		}
		for name, list := range res.Responses {
			for _, a := range list {
				it, err := fromAttrs(a)
				if err != nil {
					return nil, err
				}
				k, err := projections.KeyOf(tables[name], it)
				if err != nil {
					return nil, err
				}
				out[k] = it
			}
		}
		return res.UnprocessedKeys, nil
	})
}

// maxTransactGet is the most items one TransactGetItems reads.
const maxTransactGet = 100

// getIsolated reads keys in one TransactGetItems. Unlike BatchGetItem, whose items are read
// one by one, it sees every Write transaction either wholly or not at all: a projector that
// reads a stream's position together with its rows must never get rows older than the
// position (it would then write rows that miss an event and pass the position check).
func (s *Store) getIsolated(ctx context.Context, keys []projections.Key) (map[projections.Key]projections.Item, error) {
	items := make([]types.TransactGetItem, len(keys))
	for i, k := range keys {
		ka, err := keyAttrs(k)
		if err != nil {
			return nil, err
		}
		items[i] = types.TransactGetItem{Get: &types.Get{TableName: aws.String(s.name(k.Table)), Key: ka}}
	}
	res, err := s.db.TransactGetItems(ctx, &dynamodb.TransactGetItemsInput{TransactItems: items})
	if err != nil {
		return nil, translate(err, "transact get")
	}
	out := make(map[projections.Key]projections.Item, len(keys))
	for i, r := range res.Responses {
		if r.Item == nil {
			continue
		}
		it, err := fromAttrs(r.Item)
		if err != nil {
			return nil, err
		}
		out[keys[i]] = it
	}
	return out, nil
}

// Query implements projections.Store.
func (s *Store) Query(ctx context.Context, q projections.Query) ([]projections.Item, error) {
	sc, ok := projections.SchemaOf(q.Table.Name)
	if !ok || q.Partition == "" || q.Limit < 0 {
		return nil, fmt.Errorf("projections/dynamo: query %s: unknown table, empty partition or negative limit", q.Table)
	}
	pk, sk := sc.PartitionKey, sc.SortKey
	if q.Index != "" {
		found := false
		for _, ix := range sc.Indexes {
			if ix.Name == q.Index {
				pk, sk, found = ix.PartitionKey, ix.SortKey, true
			}
		}
		if !found {
			return nil, fmt.Errorf("projections/dynamo: table %s has no index %q", q.Table, q.Index)
		}
	}
	e := newExpr()
	pv, err := e.value(q.Partition)
	if err != nil {
		return nil, err
	}
	keyCond := e.name(pk) + " = " + pv
	if q.After != nil && sk != "" {
		av, err := e.value(q.After)
		if err != nil {
			return nil, err
		}
		op := " > "
		if q.Descending {
			op = " < "
		}
		keyCond += " AND " + e.name(sk) + op + av
	}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.name(q.Table)),
		KeyConditionExpression: aws.String(keyCond),
		ScanIndexForward:       aws.Bool(!q.Descending),
	}
	if q.Index != "" {
		in.IndexName = aws.String(q.Index)
	} else {
		in.ConsistentRead = aws.Bool(true)
	}
	if len(q.Filter) > 0 {
		var parts []string
		for name, want := range q.Filter {
			v, err := e.value(want)
			if err != nil {
				return nil, err
			}
			parts = append(parts, e.name(name)+" = "+v)
		}
		in.FilterExpression = aws.String(strings.Join(parts, " AND "))
	} else if q.Limit > 0 {
		// Without a filter every item read is returned, so the page can stop at the limit.
		in.Limit = aws.Int32(int32(min(q.Limit, 1<<30)))
	}
	in.ExpressionAttributeNames, in.ExpressionAttributeValues = e.namesOrNil(), e.valuesOrNil()

	var out []projections.Item
	p := dynamodb.NewQueryPaginator(s.db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, translate(err, "query "+q.Table.String())
		}
		items, err := convert.All(nil, page.Items, fromAttrs)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if q.Limit > 0 && len(out) >= q.Limit {
			return out[:q.Limit], nil
		}
	}
	return out, nil
}

// Scan implements projections.Store.
func (s *Store) Scan(ctx context.Context, t projections.Table, fn func(items []projections.Item) error) error {
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(s.name(t)), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return translate(err, "scan "+t.String())
		}
		items, err := convert.All(nil, page.Items, fromAttrs)
		if err != nil {
			return err
		}
		if err := fn(items); err != nil {
			return err
		}
	}
	return nil
}

// Write implements projections.Store: PutItem for a single put, TransactWriteItems
// otherwise.
func (s *Store) Write(ctx context.Context, puts []projections.Put, deletes []projections.Key) error {
	if err := projections.CheckWrite(puts, deletes, false); err != nil {
		return err
	}
	if len(puts) == 0 && len(deletes) == 0 {
		return nil
	}
	if len(puts) == 1 && len(deletes) == 0 {
		p := puts[0]
		in, err := s.putInput(p)
		if err != nil {
			return err
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: in.TableName, Item: in.Item, ConditionExpression: in.ConditionExpression,
			ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues,
		})
		return translate(err, "put into "+p.Table.String())
	}
	items, err := s.transactItems(puts, deletes)
	if err != nil {
		return err
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return translate(err, fmt.Sprintf("transaction of %d items", len(items)))
}

// TransactItems returns puts as the items of a DynamoDB transaction, guards included, for
// a caller that commits them with writes of its own (the worker's append: see
// eventstore/dynamo.AppendWith). Their failed conditions mean what ErrConditionFailed means.
func (s *Store) TransactItems(puts []projections.Put) ([]types.TransactWriteItem, error) {
	if err := projections.CheckWrite(puts, nil, false); err != nil {
		return nil, err
	}
	return s.transactItems(puts, nil)
}

func (s *Store) transactItems(puts []projections.Put, deletes []projections.Key) ([]types.TransactWriteItem, error) {
	items := make([]types.TransactWriteItem, 0, len(puts)+len(deletes))
	for _, p := range puts {
		in, err := s.putInput(p)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: in})
	}
	for _, k := range deletes {
		ka, err := keyAttrs(k)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.name(k.Table)), Key: ka}})
	}
	return items, nil
}

func (s *Store) putInput(p projections.Put) (*types.Put, error) {
	item, err := toAttrs(p.Item)
	if err != nil {
		return nil, fmt.Errorf("projections/dynamo: put into %s: %w", p.Table, err)
	}
	e := newExpr()
	cond, err := condition(e, p.Table, p.Guard)
	if err != nil {
		return nil, err
	}
	return &types.Put{
		TableName: aws.String(s.name(p.Table)), Item: item, ConditionExpression: cond,
		ExpressionAttributeNames: e.namesOrNil(), ExpressionAttributeValues: e.valuesOrNil(),
	}, nil
}

// WriteBatch implements projections.Store.
func (s *Store) WriteBatch(ctx context.Context, puts []projections.Put, deletes []projections.Key) error {
	if err := projections.CheckWrite(puts, deletes, true); err != nil {
		return err
	}
	type write struct {
		table string
		req   types.WriteRequest
	}
	writes := make([]write, 0, len(puts)+len(deletes))
	for _, p := range puts {
		item, err := toAttrs(p.Item)
		if err != nil {
			return fmt.Errorf("projections/dynamo: put into %s: %w", p.Table, err)
		}
		writes = append(writes, write{s.name(p.Table), types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}})
	}
	for _, k := range deletes {
		ka, err := keyAttrs(k)
		if err != nil {
			return err
		}
		writes = append(writes, write{s.name(k.Table), types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: ka}}})
	}
	var batches []map[string][]types.WriteRequest
	for start := 0; start < len(writes); start += maxBatchWrite {
		req := map[string][]types.WriteRequest{}
		for _, w := range writes[start:min(start+maxBatchWrite, len(writes))] {
			req[w.table] = append(req[w.table], w.req)
		}
		batches = append(batches, req)
	}
	return ddb.ForEach(ctx, s.cfg.BatchConcurrency, batches, s.batchWrite)
}

func (s *Store) batchWrite(ctx context.Context, req map[string][]types.WriteRequest) error {
	return untilProcessed(ctx, s, "batch write: items", req, func(req map[string][]types.WriteRequest) (map[string][]types.WriteRequest, error) {
		res, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
		if err != nil {
			return nil, translate(err, "batch write")
		}
		return res.UnprocessedItems, nil
	})
}

// untilProcessed sends req with a batch call, then sends again what each call leaves
// unprocessed (see awaitRetry; what names it, e.g. "batch get: keys") until nothing is left.
func untilProcessed[R any](ctx context.Context, s *Store, what string, req map[string]R, send func(map[string]R) (map[string]R, error)) error {
	for attempt := 1; len(req) > 0; attempt++ {
		left, err := send(req)
		if err != nil {
			return err
		}
		req = left
		if len(req) > 0 {
			if err := s.awaitRetry(ctx, what, attempt); err != nil {
				return err
			}
		}
	}
	return nil
}

// batchBackoff spaces the attempts of a batch call: from 20 ms, doubling up to 2 s.
var batchBackoff = backoff.Backoff{Base: 20 * time.Millisecond, Max: 2 * time.Second}

// awaitRetry waits before another attempt at what attempt attempts of a batch call left
// unprocessed (what names them, e.g. "batch get: keys"); after Config.BatchAttempts it fails.
func (s *Store) awaitRetry(ctx context.Context, what string, attempt int) error {
	if attempt >= s.cfg.BatchAttempts {
		return fmt.Errorf("projections/dynamo: %s still unprocessed after %d attempts", what, attempt)
	}
	return batchBackoff.Wait(ctx, attempt-1)
}
