package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo"
	"buildledger/eventstore/eventstoretest"
	"buildledger/internal/awstest"
)

// newTables creates fresh events and commands tables for one test and drops them after it.
func newTables(t testing.TB, client *dynamodb.Client) (events, commands string) {
	t.Helper()
	prefix := awstest.Prefix(t, "eventstore")
	events, commands = prefix+"events", prefix+"commands"
	created, err := dynamo.CreateTables(context.Background(), client, events, commands)
	if err != nil {
		t.Fatalf("create tables: %v", err)
	}
	if !slices.Equal(created, []string{events, commands}) {
		t.Fatalf("created %v, want both tables", created)
	}
	t.Cleanup(func() {
		for _, name := range []string{events, commands} {
			_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	})
	return events, commands
}

// newStore returns a Store of cfg on fresh tables (newTables) of the emulator.
func newStore(t testing.TB, cfg dynamo.Config) *dynamo.Store {
	t.Helper()
	cfg.Client = awstest.DynamoDB(t)
	cfg.EventsTable, cfg.CommandsTable = newTables(t, cfg.Client)
	st, err := dynamo.New(cfg)
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return st
}

func TestConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store { return newStore(t, dynamo.Config{}) })
}

func TestCreateTables_given_existing_tables_then_left_alone_and_not_reported(t *testing.T) {
	t.Parallel()
	client := awstest.DynamoDB(t)
	events, commands := newTables(t, client)
	st, err := dynamo.New(dynamo.Config{Client: client, EventsTable: events, CommandsTable: commands})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(t.Context(), json.RawMessage(`{"kept":true}`)); err != nil {
		t.Fatal(err)
	}
	created, err := dynamo.CreateTables(t.Context(), client, events, commands)
	if err != nil || len(created) != 0 {
		t.Fatalf("second create: created %v, %v", created, err)
	}
	page, err := st.ReadAll(t.Context(), "", 10)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("after the second create: %d events, %v", len(page.Records), err)
	}
	// A table with other keys is refused rather than used.
	if _, err := dynamo.CreateTables(t.Context(), client, commands, events+"-new"); err == nil {
		t.Fatal("a commands table passed as the events table was accepted")
	} else {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(events + "-new")})
	}
}

func TestReadAll_given_events_over_several_days_then_pages_cross_day_buckets(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2024, 12, 30, 23, 59, 59, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(d)
	}
	st := newStore(t, dynamo.Config{Now: clock})
	ctx := t.Context()
	var want []string
	for day := range 3 {
		for i := range 3 {
			records, err := st.Append(ctx, "repo:days/x", int64(day*3+i), []eventstore.Event{{Type: "E", Body: json.RawMessage(`{}`)}}, eventstore.CommandRef{ID: uuid.NewString()})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, records[0].Key)
		}
		key, err := st.Put(ctx, json.RawMessage(`{"day":true}`))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, key)
		advance(26 * time.Hour)
	}
	if b := []string{eventstore.Bucket(want[0]), eventstore.Bucket(want[4]), eventstore.Bucket(want[8])}; !slices.Equal(b, []string{"20241230", "20250101", "20250102"}) {
		t.Fatalf("buckets %v", b)
	}
	for _, limit := range []int{1, 3, 4, 5, 12, 50} {
		if got := eventstoretest.Keys(eventstoretest.ReadAll(t, st, "", limit)); !slices.Equal(got, want) {
			t.Errorf("limit %d: read %v, want %v", limit, got, want)
		}
	}
	// Starting after a key of an earlier day that holds no more events.
	page, err := st.ReadAll(ctx, "20250101T235959999999999999", 100)
	if err != nil || len(page.Records) != 4 || page.Records[0].Key != want[8] {
		t.Errorf("after the end of the second day: %d records, %v", len(page.Records), err)
	}
	if _, err := st.ReadAll(ctx, "yesterday", 10); !errors.Is(err, eventstore.ErrInvalidInput) {
		t.Errorf("after a non-key: got %v, want ErrInvalidInput", err)
	}
}

func TestNew_given_invalid_config_then_every_problem_reported(t *testing.T) {
	_, err := dynamo.New(dynamo.Config{PutBatchSize: 26, PutMaxAttempts: -1})
	if err == nil {
		t.Fatal("an empty config was accepted")
	}
	for _, want := range []string{"Client is nil", "EventsTable is empty", "CommandsTable is empty", "PutBatchSize 26", "PutMaxAttempts -1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = dynamo.New(dynamo.Config{Client: &dynamodb.Client{}, EventsTable: "same", CommandsTable: "same"})
	if err == nil || !strings.Contains(err.Error(), "both \"same\"") {
		t.Errorf("same table twice: %v", err)
	}
}
