package costmeter_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/internal/awstest"
	"buildledger/internal/costmeter"
	"buildledger/internal/ddb"
)

// TestMeterOnEmulators checks the counts against what DynamoDB Local and fauxqs answer: a
// 3 KB item costs 3 write units in the table and 3 in its one index (1 KB each, rounded
// up), an eventually consistent read of it half a unit (4 KB each, halved).
func TestMeterOnEmulators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := costmeter.New()
	cfg := m.Attach(awstest.Config(t))
	db := dynamodb.NewFromConfig(cfg)
	table := createTableWithIndex(t, db, awstest.Prefix(t, "costmeter")+"items")

	start := m.Snapshot()
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}}
	item := map[string]types.AttributeValue{
		"pk":   key["pk"],
		"g":    &types.AttributeValueMemberS{Value: "b"},
		"body": &types.AttributeValueMemberS{Value: strings.Repeat("x", 3000)},
	}
	put := &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}
	if _, err := db.PutItem(ctx, put); err != nil {
		t.Fatal(err)
	}
	if put.ReturnConsumedCapacity != "" {
		t.Errorf("the caller's input was changed: ReturnConsumedCapacity %q", put.ReturnConsumedCapacity)
	}
	got := m.Snapshot().Sub(start).Of(costmeter.Op{Service: costmeter.ServiceDynamoDB, Operation: "PutItem"})
	if want := (costmeter.Usage{Requests: 1, Entries: 1, WriteUnits: 6, IndexWriteUnits: 3}); got != want {
		t.Errorf("given a 3 KB put on a table with one index, then it counts %+v, want %+v", got, want)
	}

	// Concurrent reads all count.
	mid := m.Snapshot()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got = m.Snapshot().Sub(mid).Of(costmeter.Op{Service: costmeter.ServiceDynamoDB, Operation: "GetItem"})
	if want := (costmeter.Usage{Requests: 8, Entries: 8, ReadUnits: 4}); got != want {
		t.Errorf("given 8 concurrent reads of it, then they count %+v, want %+v", got, want)
	}

	// A failed condition is a request, failed, without units.
	mid = m.Snapshot()
	_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")})
	if _, ok := ddb.ConditionFailure(err); !ok {
		t.Fatalf("conditional put: %v", err)
	}
	got = m.Snapshot().Sub(mid).Of(costmeter.Op{Service: costmeter.ServiceDynamoDB, Operation: "PutItem"})
	if want := (costmeter.Usage{Requests: 1, Failed: 1}); got != want {
		t.Errorf("given a failed condition, then it counts %+v, want %+v", got, want)
	}

	want := `
# HELP buildledger_dynamodb_capacity_units_total DynamoDB capacity units consumed as DynamoDB reports them, indexes included, by kind (read, write) and operation.
# TYPE buildledger_dynamodb_capacity_units_total counter
buildledger_dynamodb_capacity_units_total{kind="read",operation="GetItem"} 4
buildledger_dynamodb_capacity_units_total{kind="write",operation="PutItem"} 6
`
	if err := testutil.CollectAndCompare(costmeter.NewCollector(m, "buildledger"), strings.NewReader(want), "buildledger_dynamodb_capacity_units_total"); err != nil {
		t.Errorf("given the meter as Prometheus counters, then: %v", err)
	}
	if n := testutil.CollectAndCount(costmeter.NewCollector(m, "buildledger"), "buildledger_aws_requests_total"); n < 3 {
		t.Errorf("aws_requests_total has %d series, want CreateTable, PutItem and GetItem at least", n)
	}
}

func createTableWithIndex(t *testing.T, db *dynamodb.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	_, err := ddb.CreateTable(ctx, db, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("g"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("byG"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("g"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

func TestMeterCountsSQS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := costmeter.New()
	q := sqs.NewFromConfig(m.Attach(awstest.Config(t)))
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Prefix(t, "costmeter") + "q")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })

	start := m.Snapshot()
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	span := m.Snapshot().Sub(start)
	if got, want := span.Of(costmeter.Op{Service: costmeter.ServiceSQS, Operation: "SendMessage"}), (costmeter.Usage{Requests: 1, Entries: 1}); got != want {
		t.Errorf("given one SendMessage, then it counts %+v, want %+v", got, want)
	}
	if got := span.Ops(); len(got) != 1 {
		t.Errorf("given one SendMessage, then only it is counted, got %v", got)
	}
}
