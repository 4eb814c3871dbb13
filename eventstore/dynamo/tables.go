package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/ddb"
)

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
	commands := ddb.StringKeyTable(commandsTable, attrCommandID)
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

// createTable creates the table of in unless it exists (its key schema and indexes
// checked), then waits for it to be ACTIVE.
func createTable(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput) (bool, error) {
	made, err := ddb.CreateTable(ctx, client, in)
	if err != nil {
		return made, fmt.Errorf("eventstore/dynamo: %w", err)
	}
	return made, nil
}
