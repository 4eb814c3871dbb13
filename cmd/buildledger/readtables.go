package main

import (
	"context"

	"buildledger/handlers"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
)

// createReadTables creates the read-model tables of the current generation (generation 0 on
// a new installation) and the generation pointer's table.
func createReadTables(ctx context.Context, c *awsClients, n handlers.Names) ([]string, error) {
	store, err := projdynamo.New(projdynamo.Config{Client: c.dynamodb, Prefix: n.Prefix})
	if err != nil {
		return nil, err
	}
	tables, err := projections.Init(ctx, store)
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = projections.PhysicalName(n.Prefix, t)
	}
	return names, err
}
