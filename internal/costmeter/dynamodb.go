package costmeter

import (
	"reflect"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// withConsumedCapacity returns the input of a DynamoDB operation that can report consumed
// capacity (every input with a ReturnConsumedCapacity field: PutItem, UpdateItem,
// DeleteItem, GetItem, Query, Scan, the batch and transaction operations, PartiQL) asking
// for INDEXES, unless its caller asked for TOTAL or INDEXES already. It returns a copy: the
// caller's input may be in use elsewhere.
func withConsumedCapacity(params any) any {
	in := reflect.ValueOf(params)
	if in.Kind() != reflect.Pointer || in.IsNil() || in.Elem().Kind() != reflect.Struct {
		return params
	}
	field := in.Elem().FieldByName("ReturnConsumedCapacity")
	if !field.IsValid() || field.Type() != reflect.TypeFor[types.ReturnConsumedCapacity]() {
		return params
	}
	if r := types.ReturnConsumedCapacity(field.String()); r == types.ReturnConsumedCapacityTotal || r == types.ReturnConsumedCapacityIndexes {
		return params
	}
	c := reflect.New(in.Elem().Type())
	c.Elem().Set(in.Elem())
	c.Elem().FieldByName("ReturnConsumedCapacity").SetString(string(types.ReturnConsumedCapacityIndexes))
	return c.Interface()
}

// writeOperations are the DynamoDB operations whose capacity units are write units, when
// DynamoDB does not say (DynamoDB Local fills in only CapacityUnits). A transaction's
// condition checks are charged as writes.
var writeOperations = map[string]bool{
	"PutItem": true, "UpdateItem": true, "DeleteItem": true, "BatchWriteItem": true, "TransactWriteItems": true,
}

// dynamoUsage is what one successful call of a DynamoDB operation carried and consumed: its
// entries from the input (for Query and Scan, the items read), its units from the output's
// ConsumedCapacity (one, or one per table).
func dynamoUsage(operation string, params, result any) Usage {
	out := reflect.ValueOf(result)
	if out.Kind() != reflect.Pointer || out.IsNil() || out.Elem().Kind() != reflect.Struct {
		return Usage{Entries: 1}
	}
	var ccs []types.ConsumedCapacity
	field := out.Elem().FieldByName("ConsumedCapacity")
	if !field.IsValid() {
		// Control-plane calls (CreateTable, DescribeTable, …) consume no capacity units.
		return Usage{Entries: 1}
	}
	switch cc := field.Interface().(type) {
	case *types.ConsumedCapacity:
		if cc != nil {
			ccs = []types.ConsumedCapacity{*cc}
		}
	case []types.ConsumedCapacity:
		ccs = cc
	}
	u := Usage{Entries: requestEntries(params)}
	if count := out.Elem().FieldByName("Count"); count.IsValid() && count.CanInt() {
		u.Entries = count.Int()
	}
	if len(ccs) == 0 {
		u.Unmetered = 1
	}
	for _, cc := range ccs {
		u = u.Add(capacityUsage(cc, writeOperations[operation]))
	}
	return u
}

// requestEntries is how many items a batch or transaction input names; 1 for any other.
func requestEntries(params any) int64 {
	n := 0
	switch p := params.(type) {
	case *dynamodb.BatchGetItemInput:
		for _, ka := range p.RequestItems {
			n += len(ka.Keys)
		}
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range p.RequestItems {
			n += len(reqs)
		}
	case *dynamodb.TransactWriteItemsInput:
		n = len(p.TransactItems)
	case *dynamodb.TransactGetItemsInput:
		n = len(p.TransactItems)
	default:
		return 1
	}
	return int64(n)
}

// capacityUsage turns one table's ConsumedCapacity into units. AWS fills in
// ReadCapacityUnits and WriteCapacityUnits; DynamoDB Local only CapacityUnits, which then
// are of the operation's kind (write for a write operation: a transaction's condition
// checks are charged as writes).
func capacityUsage(cc types.ConsumedCapacity, write bool) Usage {
	read, wrote := split(cc.CapacityUnits, cc.ReadCapacityUnits, cc.WriteCapacityUnits, write)
	u := Usage{ReadUnits: read, WriteUnits: wrote}
	for _, indexes := range []map[string]types.Capacity{cc.GlobalSecondaryIndexes, cc.LocalSecondaryIndexes} {
		for _, c := range indexes {
			r, w := split(c.CapacityUnits, c.ReadCapacityUnits, c.WriteCapacityUnits, write)
			u.IndexReadUnits += r
			u.IndexWriteUnits += w
		}
	}
	return u
}

func split(total, read, write *float64, isWrite bool) (r, w float64) {
	if read != nil || write != nil {
		return deref(read), deref(write)
	}
	if isWrite {
		return 0, deref(total)
	}
	return deref(total), 0
}

func deref(v *float64) float64 {
	if v == nil {
		return 0
	}
	return *v
}
