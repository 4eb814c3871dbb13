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

// tableWait bounds how long CreateTables waits for a table to become ACTIVE.
const tableWait = 5 * time.Minute

// CreateTables creates the events and commands tables when they do not exist, billed per
// request, and waits until both are ACTIVE. Tables that exist are left alone (their key
// schema is checked) and not reported in created.
//
// events: partition key "stream" (S), sort key "version" (N); global secondary index
// "byTime" with partition key "tb" (S, the day bucket of the key) and sort key "key" (S),
// projecting every attribute. commands: partition key "commandId" (S).
func CreateTables(ctx context.Context, client *dynamodb.Client, eventsTable, commandsTable string) (created []string, err error) {
	if client == nil || eventsTable == "" || commandsTable == "" {
		return nil, errors.New("eventstore/dynamo: create tables: client and both table names are required")
	}
	events := &dynamodb.CreateTableInput{
		TableName:   aws.String(eventsTable),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrStream), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrVersion), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String(attrBucket), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrKey), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrStream), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrVersion), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(TimeIndex),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrBucket), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
	commands := &dynamodb.CreateTableInput{
		TableName:   aws.String(commandsTable),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrCommandID), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrCommandID), KeyType: types.KeyTypeHash},
		},
	}
	for _, in := range []*dynamodb.CreateTableInput{events, commands} {
		made, err := createTable(ctx, client, in)
		if err != nil {
			return created, err
		}
		if made {
			created = append(created, aws.ToString(in.TableName))
		}
	}
	return created, nil
}

// createTable creates the table of in unless it exists, then waits for it to be ACTIVE.
func createTable(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput) (made bool, err error) {
	name := aws.ToString(in.TableName)
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
	var notFound *types.ResourceNotFoundException
	switch {
	case err == nil:
		if err := checkKeySchema(desc.Table, in); err != nil {
			return false, err
		}
	case errors.As(err, &notFound):
		_, err = client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		switch {
		case err == nil:
			made = true
		case errors.As(err, &inUse): // created meanwhile by someone else
		default:
			return false, fmt.Errorf("eventstore/dynamo: create table %s: %w", name, err)
		}
	default:
		return false, fmt.Errorf("eventstore/dynamo: describe table %s: %w", name, err)
	}
	if desc != nil && desc.Table != nil && desc.Table.TableStatus == types.TableStatusActive {
		return made, nil
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, tableWait); err != nil {
		return made, fmt.Errorf("eventstore/dynamo: wait for table %s: %w", name, err)
	}
	return made, nil
}

// checkKeySchema refuses an existing table whose keys differ from the ones this adapter
// writes, so that a misnamed table is a clear error rather than failing writes later.
func checkKeySchema(table *types.TableDescription, want *dynamodb.CreateTableInput) error {
	name := aws.ToString(want.TableName)
	if table == nil {
		return fmt.Errorf("eventstore/dynamo: table %s: no description", name)
	}
	if !sameKeys(table.KeySchema, want.KeySchema) {
		return fmt.Errorf("eventstore/dynamo: table %s exists with another key schema", name)
	}
	for _, idx := range want.GlobalSecondaryIndexes {
		found := false
		for _, have := range table.GlobalSecondaryIndexes {
			if aws.ToString(have.IndexName) == aws.ToString(idx.IndexName) && sameKeys(have.KeySchema, idx.KeySchema) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("eventstore/dynamo: table %s has no index %s on the expected keys", name, aws.ToString(idx.IndexName))
		}
	}
	return nil
}

func sameKeys(a, b []types.KeySchemaElement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if aws.ToString(a[i].AttributeName) != aws.ToString(b[i].AttributeName) || a[i].KeyType != b[i].KeyType {
			return false
		}
	}
	return true
}
