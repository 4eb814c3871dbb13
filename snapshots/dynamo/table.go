package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableActiveTimeout bounds the wait for a new table to become ACTIVE; AWS usually takes
// seconds, DynamoDB Local none.
const tableActiveTimeout = 5 * time.Minute

// CreateTable creates the snapshots table (on-demand capacity, partition key aggregateId)
// unless it exists, then waits until it is ACTIVE. created reports whether this call created
// it. An existing table is left alone, but one whose key is not aggregateId (S) alone is an
// error: the store could not work with it.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) (created bool, err error) {
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		created, err = create(ctx, client, table)
		if err != nil {
			return false, err
		}
	case err != nil:
		return false, fmt.Errorf("snapshots/dynamo: describe table %s: %w", table, err)
	default:
		if err := checkKeySchema(table, desc.Table); err != nil {
			return false, err
		}
		if desc.Table.TableStatus == types.TableStatusActive {
			return false, nil
		}
	}
	err = dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, tableActiveTimeout)
	if err != nil {
		return created, fmt.Errorf("snapshots/dynamo: wait for table %s: %w", table, err)
	}
	return created, nil
}

// create creates the table; losing a race with another creator is not an error.
func create(ctx context.Context, client *dynamodb.Client, table string) (bool, error) {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrAggregateID), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrAggregateID), KeyType: types.KeyTypeHash},
		},
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("snapshots/dynamo: create table %s: %w", table, err)
	}
	return true, nil
}

func checkKeySchema(table string, desc *types.TableDescription) error {
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, def := range desc.AttributeDefinitions {
		attrTypes[aws.ToString(def.AttributeName)] = def.AttributeType
	}
	ks := desc.KeySchema
	if len(ks) == 1 && aws.ToString(ks[0].AttributeName) == attrAggregateID && ks[0].KeyType == types.KeyTypeHash && attrTypes[attrAggregateID] == types.ScalarAttributeTypeS {
		return nil
	}
	var got []string
	for _, k := range ks {
		got = append(got, fmt.Sprintf("%s %s (%s)", k.KeyType, aws.ToString(k.AttributeName), attrTypes[aws.ToString(k.AttributeName)]))
	}
	return fmt.Errorf("snapshots/dynamo: table %s has key %v, want only %s (S) as partition key", table, got, attrAggregateID)
}
