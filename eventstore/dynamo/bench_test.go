package dynamo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo"
	"buildledger/internal/awstest"
)

// The benchmarks compare the adapter ("store") with hand-built requests that write the same
// items under the same conditions ("raw"), so that the difference is the adapter's own cost.

// benchStore returns an adapter on fresh tables, and a client with a second pair of fresh
// tables for the raw requests, so that the two never share items or partitions.
func benchStore(b *testing.B) (st *dynamo.Store, raw *dynamodb.Client, events, commands string) {
	b.Helper()
	st = newStore(b, dynamo.Config{})
	raw = awstest.DynamoDB(b)
	events, commands = newTables(b, raw)
	return st, raw, events, commands
}

// runParallel splits b.N operations over workers goroutines, worker w doing op(w, i) for its
// i = 0, 1, …, and reports the rate as events/s.
func runParallel(b *testing.B, workers int, op func(ctx context.Context, worker, i int) error) {
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		n := b.N / workers
		if w < b.N%workers {
			n++
		}
		wg.Go(func() {
			for i := range n {
				if err := op(ctx, w, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// benchOp is one operation of worker, its i-th.
type benchOp = func(ctx context.Context, worker, i int) error

// compareParallel benchmarks the adapter's operation against the raw requests' one, each
// with 1 and then 16 workers (named what, e.g. "streams"). Both are made anew for every run,
// so that a run starts on streams of its own.
func compareParallel(b *testing.B, what string, store, raw func() benchOp) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("%s=%d", what, workers), func(b *testing.B) {
			b.Run("store", func(b *testing.B) { runParallel(b, workers, store()) })
			b.Run("raw", func(b *testing.B) { runParallel(b, workers, raw()) })
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	st, client, events, commands := benchStore(b)
	keys := eventstore.NewKeyGenerator(nil)
	compareParallel(b, "streams", func() benchOp {
		run := uuid.NewString()
		return func(ctx context.Context, w, i int) error {
			_, err := st.Append(ctx, fmt.Sprintf("bench:%s/%d", run, w), int64(i),
				[]eventstore.Event{{Type: "Benched", Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}},
				eventstore.CommandRef{ID: uuid.NewString(), Type: "Bench", BodyHash: "h"})
			return err
		}
	}, func() benchOp {
		run := uuid.NewString()
		return func(ctx context.Context, w, i int) error {
			stream, expected := fmt.Sprintf("bench:%s/%d", run, w), int64(i)
			return rawAppend(ctx, client, events, commands, keys, stream, expected, fmt.Sprintf(`{"n":%d}`, i))
		}
	})
}

// rawAppend is Append's transaction for one event, built by hand.
func rawAppend(ctx context.Context, client *dynamodb.Client, events, commands string, keys *eventstore.KeyGenerator, stream string, expected int64, body string) error {
	key := keys.Next()
	at := time.Now().UTC().Format(time.RFC3339Nano)
	version := strconv.FormatInt(expected+1, 10)
	cmdID := uuid.NewString()
	eventItem := rawEventItem(stream, version, key, "Benched", body, at)
	eventItem["commandId"] = &types.AttributeValueMemberS{Value: cmdID}
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:                aws.String(events),
			Item:                     eventItem,
			ConditionExpression:      aws.String("attribute_not_exists(#stream)"),
			ExpressionAttributeNames: map[string]string{"#stream": "stream"},
		}},
		{Put: &types.Put{
			TableName: aws.String(commands),
			Item: map[string]types.AttributeValue{
				"commandId":    &types.AttributeValueMemberS{Value: cmdID},
				"status":       &types.AttributeValueMemberS{Value: "accepted"},
				"stream":       &types.AttributeValueMemberS{Value: stream},
				"firstVersion": &types.AttributeValueMemberN{Value: version},
				"lastVersion":  &types.AttributeValueMemberN{Value: version},
				"version":      &types.AttributeValueMemberN{Value: version},
				"commandType":  &types.AttributeValueMemberS{Value: "Bench"},
				"bodyHash":     &types.AttributeValueMemberS{Value: "h"},
				"recordedAt":   &types.AttributeValueMemberS{Value: at},
			},
			ConditionExpression:      aws.String("attribute_not_exists(#id)"),
			ExpressionAttributeNames: map[string]string{"#id": "commandId"},
		}},
	}
	if expected > 0 {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName: aws.String(events),
			Key: map[string]types.AttributeValue{
				"stream":  &types.AttributeValueMemberS{Value: stream},
				"version": &types.AttributeValueMemberN{Value: strconv.FormatInt(expected, 10)},
			},
			ConditionExpression:      aws.String("attribute_exists(#stream)"),
			ExpressionAttributeNames: map[string]string{"#stream": "stream"},
		}})
	}
	_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	return err
}

func BenchmarkPut(b *testing.B) {
	st, client, events, _ := benchStore(b)
	keys := eventstore.NewKeyGenerator(nil)
	compareParallel(b, "callers", func() benchOp {
		return func(ctx context.Context, w, i int) error {
			_, err := st.Put(ctx, json.RawMessage(fmt.Sprintf(`{"my":"event","w":%d,"i":%d}`, w, i)))
			return err
		}
	}, func() benchOp {
		return func(ctx context.Context, w, i int) error {
			key := keys.Next()
			_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(events),
				Item: rawEventItem("put:"+key, "1", key, "Put", fmt.Sprintf(`{"my":"event","w":%d,"i":%d}`, w, i),
					time.Now().UTC().Format(time.RFC3339Nano)),
			})
			return err
		}
	})
}

// rawEventItem is the events table's item of an event, built by hand.
func rawEventItem(stream, version, key, typ, body, recordedAt string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"stream":     &types.AttributeValueMemberS{Value: stream},
		"version":    &types.AttributeValueMemberN{Value: version},
		"key":        &types.AttributeValueMemberS{Value: key},
		"tb":         &types.AttributeValueMemberS{Value: key[:8]},
		"type":       &types.AttributeValueMemberS{Value: typ},
		"body":       &types.AttributeValueMemberS{Value: body},
		"recordedAt": &types.AttributeValueMemberS{Value: recordedAt},
	}
}
