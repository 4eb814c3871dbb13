package dynamo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo"
	"buildledger/internal/awstest"
)

// alsoWrite returns an Also that writes one item of the commands table under id, on the
// condition that nothing is stored there (or, with mustExist, that something is); proves
// says its condition proves the expected version.
func alsoWrite(table, id string, mustExist, proves bool, gotRoom *dynamo.Room) dynamo.Also {
	cond := "attribute_not_exists(commandId)"
	if mustExist {
		cond = "attribute_exists(commandId)"
	}
	return func(records []eventstore.Record, room dynamo.Room) (dynamo.Carried, error) {
		*gotRoom = room
		return dynamo.Carried{ProveExpected: proves, Items: []types.TransactWriteItem{{Put: &types.Put{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"commandId": &types.AttributeValueMemberS{Value: id},
				"stream":    &types.AttributeValueMemberS{Value: records[0].Stream},
			},
			ConditionExpression: aws.String(cond),
		}}}}, nil
	}
}

func TestAppendWith(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := awstest.DynamoDB(t)
	events, commands := newTables(t, client)
	st, err := dynamo.New(dynamo.Config{Client: client, EventsTable: events, CommandsTable: commands})
	if err != nil {
		t.Fatal(err)
	}
	stored := func(id string) bool {
		t.Helper()
		out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(commands), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"commandId": &types.AttributeValueMemberS{Value: id}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item != nil
	}
	event := []eventstore.Event{{Type: "Happened", Body: []byte(`{}`)}}
	cmd := func() eventstore.CommandRef { return eventstore.CommandRef{ID: uuid.NewString(), Type: "Do"} }
	var room dynamo.Room

	t.Run("given writes carried along, when the append commits, then they are written with the events", func(t *testing.T) {
		also := "also-" + uuid.NewString()
		recs, err := st.AppendWith(ctx, "s-1", 0, event, cmd(), alsoWrite(commands, also, false, false, &room))
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Version != 1 || !stored(also) {
			t.Fatalf("records %v, carried write stored %v; want version 1 and stored", recs, stored(also))
		}
		// One event, the outcome and no expected-version check: 98 items left, proof or not.
		if room != (dynamo.Room{Items: 98, Proving: 98}) {
			t.Errorf("room = %+v, want 98 and 98", room)
		}
	})
	t.Run("given a carried write whose condition fails, then nothing is written and the error says so", func(t *testing.T) {
		c := cmd()
		_, err := st.AppendWith(ctx, "s-2", 0, event, c, alsoWrite(commands, "absent-"+uuid.NewString(), true, false, &room))
		if !errors.Is(err, dynamo.ErrAlsoRefused) {
			t.Fatalf("err = %v, want ErrAlsoRefused", err)
		}
		if stored(c.ID) {
			t.Error("the outcome was written though the transaction was refused")
		}
		got, err := st.Load(ctx, "s-2", 1)
		if err != nil || len(got) != 0 {
			t.Fatalf("events of s-2 = %v, %v; want none", got, err)
		}
		// The append alone then goes through.
		if _, err := st.Append(ctx, "s-2", 0, event, c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("given a used command id and a failing carried write, then the duplicate is reported", func(t *testing.T) {
		c := cmd()
		if _, err := st.Append(ctx, "s-3", 0, event, c); err != nil {
			t.Fatal(err)
		}
		_, err := st.AppendWith(ctx, "s-3", 1, event, c, alsoWrite(commands, "absent-"+uuid.NewString(), true, false, &room))
		if !errors.Is(err, eventstore.ErrDuplicateCommand) {
			t.Fatalf("err = %v, want ErrDuplicateCommand", err)
		}
	})
	t.Run("given carried writes that prove the expected version, then the append's own check of it is left out", func(t *testing.T) {
		// Version 5 of s-4 does not exist: only the check would refuse the append. Real
		// carried writes that claim the proof hold only when it exists (a read model's
		// position at that version).
		if _, err := st.AppendWith(ctx, "s-4", 5, event, cmd(), alsoWrite(commands, "also-"+uuid.NewString(), false, false, &room)); !errors.Is(err, eventstore.ErrVersionConflict) {
			t.Fatalf("without the proof: err = %v, want ErrVersionConflict", err)
		}
		recs, err := st.AppendWith(ctx, "s-4", 5, event, cmd(), alsoWrite(commands, "also-"+uuid.NewString(), false, true, &room))
		if err != nil || len(recs) != 1 || recs[0].Version != 6 {
			t.Fatalf("with the proof: %v, %v; want version 6 appended", recs, err)
		}
		// One event, the outcome and the check: 97 items left, and its slot too for a proof.
		if room != (dynamo.Room{Items: 97, Proving: 98}) {
			t.Errorf("room = %+v, want 97, and 98 proving", room)
		}
	})
	t.Run("given a taken version and a failing carried write, then the conflict is reported", func(t *testing.T) {
		_, err := st.AppendWith(ctx, "s-3", 0, event, cmd(), alsoWrite(commands, "absent-"+uuid.NewString(), true, false, &room))
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			t.Fatalf("err = %v, want ErrVersionConflict", err)
		}
	})
}
