package faults_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/awstest"
	"buildledger/internal/faults"
)

func TestTransport_GivenEachKind_WhenRateIsOne_ThenEveryRequestFailsThatWay(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	tests := []struct {
		kind       faults.Kind
		wantStatus int
		wantReset  bool
		wantServed int64
	}{
		{faults.Throttle, http.StatusBadRequest, false, 0},
		{faults.ServerError, http.StatusInternalServerError, false, 0},
		{faults.Timeout, 0, false, 0},
		{faults.ResetBefore, 0, true, 0},
		{faults.ResetAfter, 0, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			served.Store(0)
			tr, err := faults.New(faults.Config{Rate: 1, Kinds: []faults.Kind{tt.kind}})
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL, nil)
			resp, err := tr.RoundTrip(req)
			switch {
			case tt.wantStatus != 0:
				if err != nil || resp.StatusCode != tt.wantStatus {
					t.Fatalf("got %v, %v; want status %d", resp, err, tt.wantStatus)
				}
			case tt.wantReset:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("got %v; want a connection reset", err)
				}
			default:
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("got %v; want a timeout", err)
				}
			}
			if served.Load() != tt.wantServed {
				t.Fatalf("server saw %d requests, want %d", served.Load(), tt.wantServed)
			}
			if tr.Injected()[tt.kind] != 1 {
				t.Fatalf("Injected()[%v] = %d, want 1", tt.kind, tr.Injected()[tt.kind])
			}
		})
	}
}

func TestTransport_GivenBadRate_ThenError(t *testing.T) {
	if _, err := faults.New(faults.Config{Rate: 1.5}); err == nil {
		t.Fatal("rate 1.5 accepted")
	}
}

// The AWS SDK retries every injected failure: at a 30% fault rate all writes land.
func TestTransport_GivenDynamoDBClient_WhenFaultsInjected_ThenSDKRetriesThrough(t *testing.T) {
	cfg := awstest.Config(t)
	tr, err := faults.New(faults.Config{Rate: 0.3, Seed: 7, Kinds: []faults.Kind{faults.Throttle, faults.ServerError, faults.Timeout, faults.ResetBefore}})
	if err != nil {
		t.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: tr}
		o.Retryer = awstest.FastRetryer(20)
	})
	plain := awstest.DynamoDB(t)
	table := awstest.Prefix(t, "faults") + "t"
	ctx := context.Background()
	_, err = plain.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = plain.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	const n = 100
	for i := 0; i < n; i++ {
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item:      map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: fmt.Sprint(i)}},
		}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	out, err := plain.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != n {
		t.Fatalf("table holds %d items, want %d", out.Count, n)
	}
	if tr.Total() < 10 {
		t.Fatalf("only %d failures injected over %d calls; the test proves nothing", tr.Total(), tr.Passed())
	}
	t.Logf("injected %v, passed %d", tr.Injected(), tr.Passed())
}
