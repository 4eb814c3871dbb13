package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/ddb"
	"buildledger/projections"
)

// CreateTables creates the read model's tables under prefix that do not exist yet, billed
// per request, and waits until they are ACTIVE: the readmodel table (generation pointer and
// replay lease), and the tables of the generations the pointer refers to — on a new install
// generation 0: prefix + repos, builds, statuses, status_heads, status_events,
// status_counters, locks, jobs (with its byVersion index) and positions. It is idempotent
// and returns the names of the tables it created.
func CreateTables(ctx context.Context, client *dynamodb.Client, prefix string) (created []string, err error) {
	s, err := New(Config{Client: client, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	tables, err := projections.Init(ctx, s)
	for _, t := range tables {
		created = append(created, s.name(t))
	}
	return created, err
}

// CreateTables implements projections.Store. It creates the tables concurrently, then
// waits for each to be ACTIVE; a table that exists is left alone.
func (s *Store) CreateTables(ctx context.Context, tables []projections.Table) ([]projections.Table, error) {
	var (
		mu      sync.Mutex
		created []projections.Table
		errs    []error
		wg      sync.WaitGroup
	)
	for _, t := range tables {
		in, err := createInput(s.name(t), t)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			made, err := s.createTable(ctx, in)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if made {
				created = append(created, t)
			}
		})
	}
	wg.Wait()
	return created, errors.Join(errs...)
}

func createInput(name string, t projections.Table) (*dynamodb.CreateTableInput, error) {
	sc, ok := projections.SchemaOf(t.Name)
	if !ok {
		return nil, fmt.Errorf("projections/dynamo: unknown table %q", t.Name)
	}
	defs := map[string]types.ScalarAttributeType{sc.PartitionKey: types.ScalarAttributeTypeS}
	keys := []types.KeySchemaElement{{AttributeName: aws.String(sc.PartitionKey), KeyType: types.KeyTypeHash}}
	if sc.SortKey != "" {
		typ := types.ScalarAttributeTypeS
		if sc.SortKeyNumeric {
			typ = types.ScalarAttributeTypeN
		}
		defs[sc.SortKey] = typ
		keys = append(keys, types.KeySchemaElement{AttributeName: aws.String(sc.SortKey), KeyType: types.KeyTypeRange})
	}
	var indexes []types.GlobalSecondaryIndex
	for _, ix := range sc.Indexes {
		defs[ix.PartitionKey] = types.ScalarAttributeTypeS
		defs[ix.SortKey] = types.ScalarAttributeTypeS
		indexes = append(indexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.Name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ix.PartitionKey), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(ix.SortKey), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	var attrDefs []types.AttributeDefinition
	for n, typ := range defs {
		attrDefs = append(attrDefs, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: typ})
	}
	return &dynamodb.CreateTableInput{
		TableName:              aws.String(name),
		BillingMode:            types.BillingModePayPerRequest,
		AttributeDefinitions:   attrDefs,
		KeySchema:              keys,
		GlobalSecondaryIndexes: indexes,
	}, nil
}

// createTable creates the table of in unless it exists (its key schema and indexes
// checked), then waits for it to be ACTIVE.
func (s *Store) createTable(ctx context.Context, in *dynamodb.CreateTableInput) (bool, error) {
	made, err := ddb.CreateTable(ctx, s.db, in)
	if err != nil {
		return made, fmt.Errorf("projections/dynamo: %w", err)
	}
	return made, nil
}

// DropTables implements projections.Store. DynamoDB deletes tables in the background;
// generation numbers are never reused, so nothing waits for it.
func (s *Store) DropTables(ctx context.Context, tables []projections.Table) error {
	var errs []error
	for _, t := range tables {
		_, err := s.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.name(t))})
		if err != nil && !ddb.IsNoTable(err) {
			errs = append(errs, fmt.Errorf("projections/dynamo: drop table %s: %w", s.name(t), err))
		}
	}
	return errors.Join(errs...)
}

// Tables implements projections.Store: the tables under the prefix whose names are those
// of read-model tables.
func (s *Store) Tables(ctx context.Context) ([]projections.Table, error) {
	var out []projections.Table
	p := dynamodb.NewListTablesPaginator(s.db, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("projections/dynamo: list tables: %w", err)
		}
		for _, name := range page.TableNames {
			if t, ok := projections.ParsePhysicalName(s.cfg.Prefix, name); ok {
				out = append(out, t)
			}
		}
	}
	return out, nil
}
