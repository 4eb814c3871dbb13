// Package webhookstest gives a test a subscriptions table of its own on DynamoDB Local.
package webhookstest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/internal/awstest"
	"buildledger/internal/webhooks"
)

// Table creates the subscriptions table of a new installation prefix (named after what)
// on DynamoDB Local, deletes it when the test ends, and returns the client and the prefix.
func Table(t testing.TB, what string) (*dynamodb.Client, string) {
	t.Helper()
	client := awstest.DynamoDB(t)
	prefix := awstest.Prefix(t, what)
	if _, err := webhooks.CreateTable(context.Background(), client, webhooks.TableName(prefix)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { awstest.DeleteTables(context.Background(), t, client, prefix) })
	return client, prefix
}
