package costmeter

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// withConsumedCapacity returns the input of a DynamoDB operation that can report consumed
// capacity with ReturnConsumedCapacity INDEXES, unless its caller asked for TOTAL or
// INDEXES already. It changes a copy: the caller's input may be in use elsewhere.
func withConsumedCapacity(params any) any {
	set := func(r *types.ReturnConsumedCapacity) bool {
		if *r == types.ReturnConsumedCapacityTotal || *r == types.ReturnConsumedCapacityIndexes {
			return false
		}
		*r = types.ReturnConsumedCapacityIndexes
		return true
	}
	switch p := params.(type) {
	case *dynamodb.PutItemInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.UpdateItemInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.DeleteItemInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.GetItemInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.QueryInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.ScanInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.BatchGetItemInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.BatchWriteItemInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.TransactWriteItemsInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	case *dynamodb.TransactGetItemsInput:
		if c := *p; set(&c.ReturnConsumedCapacity) {
			return &c
		}
	}
	return params
}

// dynamoUsage is what one successful DynamoDB call carried and consumed: its entries from
// the input (or, for Query and Scan, the items read), its units from the output.
func dynamoUsage(params, result any) Usage {
	var (
		ccs     []types.ConsumedCapacity
		write   bool
		metered = true
		entries = int64(1)
	)
	one := func(cc *types.ConsumedCapacity) {
		if cc == nil {
			metered = false
			return
		}
		ccs = []types.ConsumedCapacity{*cc}
	}
	many := func(cc []types.ConsumedCapacity) {
		metered = len(cc) > 0
		ccs = cc
	}
	switch r := result.(type) {
	case *dynamodb.PutItemOutput:
		write = true
		one(r.ConsumedCapacity)
	case *dynamodb.UpdateItemOutput:
		write = true
		one(r.ConsumedCapacity)
	case *dynamodb.DeleteItemOutput:
		write = true
		one(r.ConsumedCapacity)
	case *dynamodb.GetItemOutput:
		one(r.ConsumedCapacity)
	case *dynamodb.QueryOutput:
		entries = int64(r.Count)
		one(r.ConsumedCapacity)
	case *dynamodb.ScanOutput:
		entries = int64(r.Count)
		one(r.ConsumedCapacity)
	case *dynamodb.BatchGetItemOutput:
		entries = batchGetEntries(params)
		many(r.ConsumedCapacity)
	case *dynamodb.BatchWriteItemOutput:
		write = true
		entries = batchWriteEntries(params)
		many(r.ConsumedCapacity)
	case *dynamodb.TransactWriteItemsOutput:
		write = true
		if p, ok := params.(*dynamodb.TransactWriteItemsInput); ok {
			entries = int64(len(p.TransactItems))
		}
		many(r.ConsumedCapacity)
	case *dynamodb.TransactGetItemsOutput:
		if p, ok := params.(*dynamodb.TransactGetItemsInput); ok {
			entries = int64(len(p.TransactItems))
		}
		many(r.ConsumedCapacity)
	default:
		// Control-plane calls (CreateTable, DescribeTable, …) consume no capacity units.
		return Usage{Entries: 1}
	}
	u := Usage{Entries: entries}
	if !metered {
		u.Unmetered = 1
	}
	for _, cc := range ccs {
		u = u.Add(capacityUsage(cc, write))
	}
	return u
}

func batchGetEntries(params any) int64 {
	p, ok := params.(*dynamodb.BatchGetItemInput)
	if !ok {
		return 1
	}
	var n int64
	for _, ka := range p.RequestItems {
		n += int64(len(ka.Keys))
	}
	return n
}

func batchWriteEntries(params any) int64 {
	p, ok := params.(*dynamodb.BatchWriteItemInput)
	if !ok {
		return 1
	}
	var n int64
	for _, reqs := range p.RequestItems {
		n += int64(len(reqs))
	}
	return n
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
