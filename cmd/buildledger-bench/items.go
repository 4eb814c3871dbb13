package main

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
)

// The raw baselines write, by hand, the items the event store writes: same tables' key
// schema, same attributes, same conditions. These builders follow the layout documented in
// eventstore/dynamo (items.go there).

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// rawEvent is the events table item of one event.
func rawEvent(stream string, version int64, key, typ, body, commandID string, at time.Time) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		"stream":     s(stream),
		"version":    n(version),
		"key":        s(key),
		"tb":         s(eventstore.Bucket(key)),
		"type":       s(typ),
		"body":       s(body),
		"recordedAt": s(at.UTC().Format(time.RFC3339Nano)),
	}
	if commandID != "" {
		item["commandId"] = s(commandID)
	}
	return item
}

// rawOutcome is the commands table item of an accepted command that appended versions
// first to last.
func rawOutcome(commandID, commandType, stream string, first, last int64, bodyHash string, at time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"commandId":    s(commandID),
		"status":       s(eventstore.OutcomeAccepted),
		"stream":       s(stream),
		"firstVersion": n(first),
		"lastVersion":  n(last),
		"version":      n(last),
		"commandType":  s(commandType),
		"bodyHash":     s(bodyHash),
		"recordedAt":   s(at.UTC().Format(time.RFC3339Nano)),
	}
}

// rawEventSpec is one event of a hand-built append: its key, type and body.
type rawEventSpec struct {
	key, typ, body string
}

// rawAppendItems is the transaction of Append for events on a stream at expected: each
// event conditioned on its free version slot, the outcome conditioned on its unused command
// id, and, past the first version, the check that the expected version exists.
func rawAppendItems(eventsTable, commandsTable, stream string, expected int64, events []rawEventSpec, commandID, commandType, bodyHash string, at time.Time) []types.TransactWriteItem {
	items := make([]types.TransactWriteItem, 0, len(events)+2)
	for i, ev := range events {
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                aws.String(eventsTable),
			Item:                     rawEvent(stream, expected+int64(i)+1, ev.key, ev.typ, ev.body, commandID, at),
			ConditionExpression:      aws.String("attribute_not_exists(#stream)"),
			ExpressionAttributeNames: map[string]string{"#stream": "stream"},
		}})
	}
	first, last := expected+1, expected+int64(len(events))
	items = append(items, types.TransactWriteItem{Put: &types.Put{
		TableName:                aws.String(commandsTable),
		Item:                     rawOutcome(commandID, commandType, stream, first, last, bodyHash, at),
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": "commandId"},
	}})
	if expected > 0 {
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                aws.String(eventsTable),
			Key:                      map[string]types.AttributeValue{"stream": s(stream), "version": n(expected)},
			ConditionExpression:      aws.String("attribute_exists(#stream)"),
			ExpressionAttributeNames: map[string]string{"#stream": "stream"},
		}})
	}
	return items
}
