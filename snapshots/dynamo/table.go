package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/internal/ddb"
)

// CreateTable creates the snapshots table (on-demand capacity, partition key aggregateId)
// unless it exists, then waits until it is ACTIVE. created reports whether this call created
// it. An existing table is left alone, but one whose key is not aggregateId (S) alone is an
// error: the store could not work with it.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) (created bool, err error) {
	created, err = ddb.CreateTable(ctx, client, ddb.StringKeyTable(table, attrAggregateID))
	if err != nil {
		return created, fmt.Errorf("snapshots/dynamo: %w", err)
	}
	return created, nil
}
