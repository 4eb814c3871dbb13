package dynamo_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/internal/awstest"
	"buildledger/projections"
	"buildledger/projections/dynamo"
	"buildledger/projections/projectionstest"
)

// newStore returns a Store under a prefix of its own, whose tables are dropped when the
// test ends.
func newStore(t testing.TB, client *dynamodb.Client) (*dynamo.Store, string) {
	t.Helper()
	prefix := awstest.Prefix(t, "proj")
	st, err := dynamo.New(dynamo.Config{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { awstest.DeleteTables(context.Background(), t, client, prefix) })
	return st, prefix
}

func TestConformance(t *testing.T) {
	client := awstest.DynamoDB(t)
	projectionstest.Run(t, func(t *testing.T) projections.Store {
		st, _ := newStore(t, client)
		return st
	})
}

func TestCreateTables(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := awstest.DynamoDB(t)
	_, prefix := newStore(t, client)
	created, err := dynamo.CreateTables(ctx, client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(created)
	var want []string
	for _, n := range []string{"builds", "jobs", "locks", "positions", "readmodel", "repos", "status_counters", "status_events", "status_heads", "statuses"} {
		want = append(want, prefix+n)
	}
	if !reflect.DeepEqual(created, want) {
		t.Errorf("given a new prefix when CreateTables then created %v, want %v", created, want)
	}
	again, err := dynamo.CreateTables(ctx, client, prefix)
	if err != nil || len(again) != 0 {
		t.Errorf("given existing tables when CreateTables again then created %v, %v; want nothing", again, err)
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(prefix + "jobs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.Table.GlobalSecondaryIndexes) != 1 || aws.ToString(desc.Table.GlobalSecondaryIndexes[0].IndexName) != "byVersion" {
		t.Errorf("jobs table indexes = %v, want byVersion", desc.Table.GlobalSecondaryIndexes)
	}
}

func TestConfig_Validate(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	for _, tc := range []struct {
		name    string
		cfg     dynamo.Config
		wantErr []string
	}{
		{"given a client and a prefix then valid", dynamo.Config{Client: client, Prefix: "bl-"}, nil},
		{"given no client then invalid", dynamo.Config{Prefix: "bl-"}, []string{"Client is nil"}},
		{"given a prefix with a space then invalid", dynamo.Config{Client: client, Prefix: "b l"}, []string{`Prefix "b l"`}},
		{"given nothing valid then every problem is reported", dynamo.Config{Prefix: "b/l"}, []string{"Client is nil", `Prefix "b/l"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dynamo.New(tc.cfg)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New: nil error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// An empty prefix is allowed: the tables are named by the projections alone.
	if st, err := dynamo.New(dynamo.Config{Client: client}); err != nil || st == nil {
		t.Errorf("empty prefix: %v, %v; want a store", st, err)
	}
}

// newBackend returns an event store and a read store on DynamoDB Local, each under a
// prefix of its own.
func newBackend(t testing.TB, scanPageSize int) projectionstest.Backend {
	t.Helper()
	ctx := context.Background()
	client := awstest.DynamoDB(t)
	esPrefix := awstest.Prefix(t, "es")
	eventsTable, commandsTable := esPrefix+"events", esPrefix+"commands"
	if _, err := esdynamo.CreateTables(ctx, client, eventsTable, commandsTable); err != nil {
		t.Fatal(err)
	}
	es, err := esdynamo.New(esdynamo.Config{Client: client, EventsTable: eventsTable, CommandsTable: commandsTable, ScanPageSize: scanPageSize})
	if err != nil {
		t.Fatal(err)
	}
	prefix := awstest.Prefix(t, "proj")
	st, err := dynamo.New(dynamo.Config{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		awstest.DeleteTables(context.Background(), t, client, prefix)
		awstest.DeleteTables(context.Background(), t, client, esPrefix)
	})
	return projectionstest.Backend{Store: st, Events: es, Scanner: es}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	// Small scan pages: streams are split between pages, as they are in large tables.
	projectionstest.RunReplay(t, newBackend(t, 200), 2000)
}

func TestReplayWhileLive(t *testing.T) {
	t.Parallel()
	projectionstest.RunReplayWhileLive(t, newBackend(t, 200), 600)
}

func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	projectionstest.RunConcurrentApply(t, newBackend(t, 0), 300)
}
