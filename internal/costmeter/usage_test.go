package costmeter

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestUsageOf(t *testing.T) {
	ddb := func(name string) Op { return Op{ServiceDynamoDB, name} }
	tests := []struct {
		name           string
		op             Op
		params, result any
		want           Usage
	}{
		{
			name:   "given a put reported as capacity units only (DynamoDB Local), then they are write units, the index's share apart",
			op:     ddb("PutItem"),
			params: &dynamodb.PutItemInput{},
			result: &dynamodb.PutItemOutput{ConsumedCapacity: &types.ConsumedCapacity{
				CapacityUnits:          aws.Float64(6),
				Table:                  &types.Capacity{CapacityUnits: aws.Float64(3)},
				GlobalSecondaryIndexes: map[string]types.Capacity{"byTime": {CapacityUnits: aws.Float64(3)}},
			}},
			want: Usage{Entries: 1, WriteUnits: 6, IndexWriteUnits: 3},
		},
		{
			name:   "given a get reported with read units (AWS), then those are the read units",
			op:     ddb("GetItem"),
			params: &dynamodb.GetItemInput{},
			result: &dynamodb.GetItemOutput{ConsumedCapacity: &types.ConsumedCapacity{
				CapacityUnits: aws.Float64(0.5), ReadCapacityUnits: aws.Float64(0.5),
			}},
			want: Usage{Entries: 1, ReadUnits: 0.5},
		},
		{
			name: "given a query of an index, then its items are the entries and the index's units a share of the reads",
			op:   ddb("Query"),
			result: &dynamodb.QueryOutput{Count: 7, ConsumedCapacity: &types.ConsumedCapacity{
				CapacityUnits:          aws.Float64(1.5),
				GlobalSecondaryIndexes: map[string]types.Capacity{"byTime": {CapacityUnits: aws.Float64(1.5)}},
			}},
			want: Usage{Entries: 7, ReadUnits: 1.5, IndexReadUnits: 1.5},
		},
		{
			name: "given a batch write to two tables, then every request is an entry and both tables' units add up",
			op:   ddb("BatchWriteItem"),
			params: &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{
				"a": {{}, {}}, "b": {{}},
			}},
			result: &dynamodb.BatchWriteItemOutput{ConsumedCapacity: []types.ConsumedCapacity{
				{TableName: aws.String("a"), CapacityUnits: aws.Float64(2)},
				{TableName: aws.String("b"), CapacityUnits: aws.Float64(1)},
			}},
			want: Usage{Entries: 3, WriteUnits: 3},
		},
		{
			name:   "given a transaction whose answer reports no capacity, then it is counted unmetered",
			op:     ddb("TransactWriteItems"),
			params: &dynamodb.TransactWriteItemsInput{TransactItems: make([]types.TransactWriteItem, 3)},
			result: &dynamodb.TransactWriteItemsOutput{},
			want:   Usage{Entries: 3, Unmetered: 1},
		},
		{
			name:   "given a control-plane call, then it consumes no units and is not unmetered",
			op:     ddb("DescribeTable"),
			params: &dynamodb.DescribeTableInput{},
			result: &dynamodb.DescribeTableOutput{},
			want:   Usage{Entries: 1},
		},
		{
			name:   "given a receive that returned two messages, then they are its entries",
			op:     Op{ServiceSQS, "ReceiveMessage"},
			params: &sqs.ReceiveMessageInput{},
			result: &sqs.ReceiveMessageOutput{Messages: make([]sqstypes.Message, 2)},
			want:   Usage{Entries: 2},
		},
		{
			name:   "given an SNS batch publish, then each entry counts",
			op:     Op{ServiceSNS, "PublishBatch"},
			params: &sns.PublishBatchInput{PublishBatchRequestEntries: make([]snstypes.PublishBatchRequestEntry, 4)},
			result: &sns.PublishBatchOutput{},
			want:   Usage{Entries: 4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := usageOf(tt.op, tt.params, tt.result); got != tt.want {
				t.Errorf("usage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWithConsumedCapacity(t *testing.T) {
	t.Run("given an input without ReturnConsumedCapacity, then a copy asks for INDEXES and the caller's is unchanged", func(t *testing.T) {
		in := &dynamodb.PutItemInput{TableName: aws.String("t")}
		got, ok := withConsumedCapacity(in).(*dynamodb.PutItemInput)
		if !ok || got == in || got.ReturnConsumedCapacity != types.ReturnConsumedCapacityIndexes || in.ReturnConsumedCapacity != "" {
			t.Fatalf("got %+v (same pointer %v), caller's %q", got, got == in, in.ReturnConsumedCapacity)
		}
	})
	t.Run("given an input asking for TOTAL, then it is passed on as it is", func(t *testing.T) {
		in := &dynamodb.QueryInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal}
		if got := withConsumedCapacity(in); got != any(in) {
			t.Fatalf("got %+v, want the caller's input", got)
		}
	})
}

func TestCounts(t *testing.T) {
	put, send := Op{ServiceDynamoDB, "PutItem"}, Op{ServiceSQS, "SendMessage"}
	m := New()
	m.record(put, Usage{Requests: 1, Entries: 1, WriteUnits: 2})
	before := m.Snapshot()
	m.record(put, Usage{Requests: 2, Failed: 1, Entries: 1, WriteUnits: 1.5, IndexWriteUnits: 0.5})
	m.record(send, Usage{Requests: 1, Entries: 1})
	after := m.Snapshot()

	span := after.Sub(before)
	if got, want := span.Of(put), (Usage{Requests: 2, Failed: 1, Entries: 1, WriteUnits: 1.5, IndexWriteUnits: 0.5}); got != want {
		t.Errorf("given two snapshots, when subtracted, then the put's span is %+v, want %+v", got, want)
	}
	if got := before.Of(send); got != (Usage{}) {
		t.Errorf("given a later record, then the earlier snapshot is unchanged, got %+v", got)
	}
	if got := before.Sub(before).Ops(); len(got) != 0 {
		t.Errorf("given a snapshot less itself, then no operation is left, got %v", got)
	}
	if got, want := span.Add(before).Of(put), after.Of(put); got != want {
		t.Errorf("given a span added to its start, then it is the end: %+v, want %+v", got, want)
	}
	if got, want := after.Service(ServiceDynamoDB).Requests, int64(3); got != want {
		t.Errorf("DynamoDB requests = %d, want %d", got, want)
	}
	if got, want := after.Ops(), []Op{put, send}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ops = %v, want %v", got, want)
	}
}
