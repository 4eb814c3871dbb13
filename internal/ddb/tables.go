package ddb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableWait bounds waiting for a new table to become ACTIVE: AWS takes seconds, DynamoDB
// Local none.
const TableWait = 5 * time.Minute

// CreateTable creates the table of in unless it exists, then waits until it is ACTIVE.
// created reports whether this call created it; losing a race with another creator is not
// an error. An existing table whose key schema, or one of whose global secondary indexes,
// differs from in is an error: an adapter could not work with it, and a clear error now
// beats failed writes later.
func CreateTable(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput) (created bool, err error) {
	name := aws.ToString(in.TableName)
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName})
	switch {
	case err == nil:
		if err := checkKeySchema(desc.Table, in); err != nil {
			return false, err
		}
		if desc.Table.TableStatus == types.TableStatusActive {
			return false, nil
		}
	case IsNoTable(err):
		_, err = client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		switch {
		case err == nil:
			created = true
		case errors.As(err, &inUse): // created meanwhile by someone else
		default:
			return false, fmt.Errorf("create table %s: %w", name, err)
		}
	default:
		return false, fmt.Errorf("describe table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, TableWait); err != nil {
		return created, fmt.Errorf("wait for table %s: %w", name, err)
	}
	return created, nil
}

// StringKeyTable describes an on-demand table keyed by the string attribute key alone.
func StringKeyTable(name, key string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
	}
}

// checkKeySchema refuses an existing table whose keys (names, roles and types) or global
// secondary indexes differ from the ones in describes.
func checkKeySchema(table *types.TableDescription, want *dynamodb.CreateTableInput) error {
	name := aws.ToString(want.TableName)
	if table == nil {
		return fmt.Errorf("table %s: no description", name)
	}
	have, wanted := describeKeys(table.KeySchema, table.AttributeDefinitions), describeKeys(want.KeySchema, want.AttributeDefinitions)
	if have != wanted {
		return fmt.Errorf("table %s has %s, want %s", name, have, wanted)
	}
	for _, idx := range want.GlobalSecondaryIndexes {
		found := false
		for _, have := range table.GlobalSecondaryIndexes {
			if aws.ToString(have.IndexName) == aws.ToString(idx.IndexName) && SameKeys(have.KeySchema, idx.KeySchema) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("table %s has no index %s on the expected keys", name, aws.ToString(idx.IndexName))
		}
	}
	return nil
}

// describeKeys says what a key schema is, e.g. "stream (S) as partition key and version
// (N) as sort key" or "only aggregateId (S) as partition key".
func describeKeys(keys []types.KeySchemaElement, defs []types.AttributeDefinition) string {
	typeOf := map[string]types.ScalarAttributeType{}
	for _, d := range defs {
		typeOf[aws.ToString(d.AttributeName)] = d.AttributeType
	}
	var parts []string
	for _, k := range keys {
		role := "partition key"
		if k.KeyType == types.KeyTypeRange {
			role = "sort key"
		}
		attr := aws.ToString(k.AttributeName)
		parts = append(parts, fmt.Sprintf("%s (%s) as %s", attr, typeOf[attr], role))
	}
	if len(parts) == 1 {
		return "only " + parts[0]
	}
	return strings.Join(parts, " and ")
}

// SameKeys reports whether two key schemas name the same attributes in the same roles.
func SameKeys(a, b []types.KeySchemaElement) bool {
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

// IsNoTable reports whether err says that the table does not exist.
func IsNoTable(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}
