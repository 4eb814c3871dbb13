package app_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/awstest"
)

func TestNew_GivenNoNames_ThenAnError(t *testing.T) {
	if _, err := app.New(app.Config{}); err == nil {
		t.Fatal("app.New without names: no error")
	}
}

func TestCreateTables_GivenANewPrefix_WhenRunTwice_ThenEveryTableOnceAndTheWorkerBuilds(t *testing.T) {
	names, err := handlers.NewNames(awstest.Prefix(t, "app"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Config{AWS: awstest.Config(t), Names: names})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := a.CreateTables(ctx)
	t.Cleanup(func() {
		for _, table := range created {
			_, _ = a.DynamoDB.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{names.EventsTable, names.CommandsTable, names.SnapshotsTable, names.Prefix + "locks", names.Prefix + "subscriptions"} {
		if !slices.Contains(created, want) {
			t.Errorf("created %v, missing %s", created, want)
		}
	}
	if again, err := a.CreateTables(ctx); err != nil || len(again) != 0 {
		t.Errorf("second CreateTables created %v, %v; want nothing", again, err)
	}
	if _, err := a.Worker(app.WorkerConfig{}); err != nil {
		t.Errorf("Worker: %v", err)
	}
	if _, err := a.Client("https://queue.invalid/commands.fifo"); err != nil {
		t.Errorf("Client: %v", err)
	}
}
