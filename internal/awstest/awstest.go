// Package awstest connects tests to the local AWS emulators (DynamoDB Local and fauxqs) that
// `make up` starts, and hands each test a unique resource name prefix so that tests run in
// parallel without sharing tables or queues. It is for tests only.
//
// Tests that use it fail, not skip, when the emulators are not configured: `make test` sets
// the AWS_ENDPOINT_URL_* variables. Set BUILDLEDGER_SKIP_INTEGRATION=1 to skip them on purpose.
package awstest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/internal/awsconf"
)

var counter atomic.Int64

// Config returns an AWS config pointed at the local emulators through the standard
// AWS_ENDPOINT_URL_* variables, or ends the test with a clear message when they are unset.
func Config(tb testing.TB) aws.Config {
	tb.Helper()
	if os.Getenv("BUILDLEDGER_SKIP_INTEGRATION") == "1" {
		tb.Skip("BUILDLEDGER_SKIP_INTEGRATION=1: integration test skipped")
	}
	if !awsconf.HasEndpoint() {
		tb.Fatal("awstest: AWS_ENDPOINT_URL_DYNAMODB is not set; start the local stack with `make up` and run `make test` (or eval \"$(scripts/localstack.sh env)\")")
	}
	if os.Getenv("AWS_REGION") == "" {
		tb.Setenv("AWS_REGION", "us-east-1")
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		tb.Setenv("AWS_ACCESS_KEY_ID", "local")
		tb.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	}
	cfg, err := awsconf.Load(context.Background(), awsconf.Config{MaxIdleConnsPerHost: 256, MaxAttempts: 10})
	if err != nil {
		tb.Fatalf("awstest: %v", err)
	}
	return cfg
}

// FastRetryer retries like the SDK's standard retryer, but with short backoffs and no
// client-side retry quota, so that tests which inject many failures stay quick.
func FastRetryer(maxAttempts int) aws.Retryer {
	return awsconf.Retryer(maxAttempts, 100*time.Millisecond)
}

// DynamoDB returns a DynamoDB client for the local emulator.
func DynamoDB(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	return dynamodb.NewFromConfig(Config(tb))
}

// SQS returns an SQS client for the local emulator.
func SQS(tb testing.TB) *sqs.Client {
	tb.Helper()
	return sqs.NewFromConfig(Config(tb))
}

// SNS returns an SNS client for the local emulator.
func SNS(tb testing.TB) *sns.Client {
	tb.Helper()
	return sns.NewFromConfig(Config(tb))
}

// Prefix returns a resource name prefix unique to this test run and call, e.g.
// "t1732171234-7-eventstore-", usable in table, queue and topic names.
func Prefix(tb testing.TB, what string) string {
	tb.Helper()
	what = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			return r
		}
		return '-'
	}, what)
	if len(what) > 40 {
		what = what[:40]
	}
	return fmt.Sprintf("t%d-%d-%d-%s-", time.Now().Unix()%1_000_000, os.Getpid()%100_000, counter.Add(1), what)
}

// DeleteTables deletes every table whose name starts with prefix, as a test's cleanup does;
// it logs a failure to list and ignores failures to delete (the emulator's data is
// throwaway, and a later run uses another prefix).
func DeleteTables(ctx context.Context, tb testing.TB, client *dynamodb.Client, prefix string) {
	tb.Helper()
	p := dynamodb.NewListTablesPaginator(client, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			tb.Logf("awstest: list tables: %v", err)
			return
		}
		for _, name := range page.TableNames {
			if strings.HasPrefix(name, prefix) {
				_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
			}
		}
	}
}
