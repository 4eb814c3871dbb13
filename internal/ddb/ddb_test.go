package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/awstest"
	"buildledger/internal/ddb"
)

func TestConditionFailure(t *testing.T) {
	reason := func(code string) types.CancellationReason { return types.CancellationReason{Code: aws.String(code)} }
	tests := []struct {
		name   string
		err    error
		want   ddb.Failure
		wantOK bool
	}{
		{"given a failed single-item condition then item 0 failed", fmt.Errorf("put: %w", &types.ConditionalCheckFailedException{}), ddb.Failure{Failed: []int{0}}, true},
		{"given a transaction whose third item's condition failed then item 2 failed",
			&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{reason("None"), reason("None"), reason("ConditionalCheckFailed")}},
			ddb.Failure{Failed: []int{2}}, true},
		{"given a transaction that collided then a conflict",
			&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{reason("TransactionConflict")}},
			ddb.Failure{Conflict: true}, true},
		{"given a transaction cancelled for throughput then no condition failure",
			&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{reason("ThrottlingError")}},
			ddb.Failure{}, false},
		{"given a TransactionConflictException then a conflict", &types.TransactionConflictException{}, ddb.Failure{Conflict: true}, true},
		{"given another error then no condition failure", errors.New("boom"), ddb.Failure{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ddb.ConditionFailure(tt.err)
			if ok != tt.wantOK || !slices.Equal(got.Failed, tt.want.Failed) || got.Conflict != tt.want.Conflict {
				t.Errorf("ConditionFailure = %+v, %v; want %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestForEach_GivenItems_ThenAtMostNRunAtOnceAndFirstErrorStopsTheRest(t *testing.T) {
	var running, peak atomic.Int32
	items := make([]int, 40)
	for i := range items {
		items[i] = i
	}
	err := ddb.ForEach(context.Background(), 3, items, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	if err != nil || peak.Load() > 3 || peak.Load() < 1 {
		t.Fatalf("ForEach = %v with peak %d, want nil and at most 3 at once", err, peak.Load())
	}
	var started atomic.Int32
	boom := errors.New("boom")
	err = ddb.ForEach(context.Background(), 1, items, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || started.Load() > 4 {
		t.Errorf("ForEach = %v after %d started, want boom and no item started after it", err, started.Load())
	}
}

func TestCreateTable_GivenDynamoDBLocal_ThenCreatesOnceAndRefusesAnotherKeySchema(t *testing.T) {
	t.Parallel()
	client := awstest.DynamoDB(t)
	ctx := context.Background()
	name := awstest.Prefix(t, "ddb") + "t"
	in := func(key string) *dynamodb.CreateTableInput {
		return &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
		}
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	if created, err := ddb.CreateTable(ctx, client, in("id")); err != nil || !created {
		t.Fatalf("first CreateTable = %v, %v; want created", created, err)
	}
	if created, err := ddb.CreateTable(ctx, client, in("id")); err != nil || created {
		t.Fatalf("second CreateTable = %v, %v; want it left alone", created, err)
	}
	if _, err := ddb.CreateTable(ctx, client, in("other")); err == nil {
		t.Fatal("CreateTable with another key schema: no error")
	}
}
