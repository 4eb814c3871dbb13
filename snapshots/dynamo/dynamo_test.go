package dynamo_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/awstest"
	"buildledger/internal/ddb"
	"buildledger/snapshots"
	"buildledger/snapshots/dynamo"
	"buildledger/snapshots/snapshotstest"
)

// seedCreatedAt is the createdAt of dynamodb-snapshot-store's fetch example.
const seedCreatedAt = 946684800000

func TestConformance(t *testing.T) {
	snapshotstest.Run(t, func(t *testing.T) snapshots.Store {
		client, table := newTable(t)
		return rawStore{store: newStore(t, dynamo.Config{Client: client, Table: table}), client: client, table: table}
	})
}

// rawStore lets the conformance suite write items the Store would refuse.
type rawStore struct {
	store  *dynamo.Store
	client *dynamodb.Client
	table  string
}

func (r rawStore) Store(ctx context.Context, s snapshots.Snapshot) error {
	return r.store.Store(ctx, s)
}

func (r rawStore) Fetch(ctx context.Context, id string, schema int) (snapshots.Snapshot, error) {
	return r.store.Fetch(ctx, id, schema)
}

func (r rawStore) PutRaw(ctx context.Context, s snapshots.Snapshot) error {
	return putItem(ctx, r.client, r.table, map[string]types.AttributeValue{
		"aggregateId": str(s.AggregateID),
		"version":     n(s.Version),
		"schema":      n(int64(s.Schema)),
		"createdAt":   n(s.CreatedAt.UnixMilli()),
		"state":       str(string(s.State)),
	})
}

func TestConfig_Validate(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	for _, tc := range []struct {
		name    string
		cfg     dynamo.Config
		wantErr []string
	}{
		{"given client, table and clock then valid", dynamo.Config{Client: client, Table: "snapshots", Now: time.Now}, nil},
		{"given no client then invalid", dynamo.Config{Table: "snapshots", Now: time.Now}, []string{"client is nil"}},
		{"given no table then invalid", dynamo.Config{Client: client, Now: time.Now}, []string{`table ""`}},
		{"given a table name with a space then invalid", dynamo.Config{Client: client, Table: "my snapshots", Now: time.Now}, []string{`table "my snapshots"`}},
		{"given no clock then invalid", dynamo.Config{Client: client, Table: "snapshots"}, []string{"now is nil"}},
		{"given nothing then every problem is reported", dynamo.Config{}, []string{"client is nil", `table ""`, "now is nil"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate: %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	t.Run("given no clock then it defaults to time.Now", func(t *testing.T) {
		if _, err := dynamo.New(dynamo.Config{Client: client, Table: "snapshots"}); err != nil {
			t.Fatalf("New: %v", err)
		}
	})
	t.Run("given an invalid config then a prefixed error", func(t *testing.T) {
		_, err := dynamo.New(dynamo.Config{Table: "x"})
		if err == nil || !strings.HasPrefix(err.Error(), "snapshots/dynamo: invalid config: ") {
			t.Fatalf("New: %v, want a snapshots/dynamo: invalid config error", err)
		}
		for _, want := range []string{"client is nil", `table "x"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("New: %q, want it to mention %q", err, want)
			}
		}
	})
}

func TestCreateTable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := awstest.DynamoDB(t)

	t.Run("given no table when called twice then created once and ACTIVE", func(t *testing.T) {
		t.Parallel()
		table := awstest.Prefix(t, "snapshots") + "snapshots"
		t.Cleanup(func() { deleteTable(t, client, table) })
		for i, wantCreated := range []bool{true, false} {
			created, err := dynamo.CreateTable(ctx, client, table)
			if err != nil {
				t.Fatalf("call %d: CreateTable: %v", i+1, err)
			}
			if created != wantCreated {
				t.Errorf("call %d: created %v, want %v", i+1, created, wantCreated)
			}
		}
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		d := out.Table
		if d.TableStatus != types.TableStatusActive {
			t.Errorf("status %s, want ACTIVE", d.TableStatus)
		}
		if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("billing mode %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
		}
		if len(d.KeySchema) != 1 || aws.ToString(d.KeySchema[0].AttributeName) != "aggregateId" || d.KeySchema[0].KeyType != types.KeyTypeHash {
			t.Errorf("key schema %+v, want aggregateId HASH only", d.KeySchema)
		}
	})

	t.Run("given an existing table with data when called then it is left alone", func(t *testing.T) {
		t.Parallel()
		client, table := newTable(t)
		st := newStore(t, dynamo.Config{Client: client, Table: table})
		if err := st.Store(ctx, snapshots.Snapshot{AggregateID: "repo:a/b", Version: 1, State: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		created, err := dynamo.CreateTable(ctx, client, table)
		if err != nil || created {
			t.Fatalf("CreateTable: created %v, %v; want false, nil", created, err)
		}
		if _, err := st.Fetch(ctx, "repo:a/b", 0); err != nil {
			t.Errorf("fetch after CreateTable: %v", err)
		}
	})

	t.Run("given a table with another key when called then an error", func(t *testing.T) {
		t.Parallel()
		table := awstest.Prefix(t, "snapshots") + "snapshots"
		t.Cleanup(func() { deleteTable(t, client, table) })
		_, err := client.CreateTable(ctx, ddb.StringKeyTable(table, "id"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = dynamo.CreateTable(ctx, client, table)
		if err == nil || !strings.Contains(err.Error(), "want only aggregateId (S)") {
			t.Fatalf("CreateTable: %v, want a key schema error", err)
		}
	})
}

func TestStore_itemLayout(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	st := newStore(t, dynamo.Config{Client: client, Table: table, Now: func() time.Time { return time.UnixMilli(seedCreatedAt) }})
	const id = "00000000-0000-0000-0000-000000000000"
	if err := st.Store(t.Context(), snapshots.Snapshot{AggregateID: id, Version: 12, Schema: 2, State: json.RawMessage(`{"foo":"bar"}`)}); err != nil {
		t.Fatal(err)
	}

	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"aggregateId": str(id)}, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"aggregateId": str(id),
		"version":     n(12),
		"schema":      n(2),
		"createdAt":   n(seedCreatedAt),
		"state":       str(`{"foo":"bar"}`),
	}
	if len(out.Item) != len(want) {
		t.Errorf("item has %d attributes, want %d: %v", len(out.Item), len(want), out.Item)
	}
	for name, w := range want {
		if got := out.Item[name]; !sameValue(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}

	got, err := st.Fetch(t.Context(), id, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.UnixMilli() != seedCreatedAt || got.CreatedAt.Location() != time.UTC {
		t.Errorf("createdAt %v, want %d ms in UTC", got.CreatedAt, seedCreatedAt)
	}
}

func TestFetch_unusableItems(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	st := newStore(t, dynamo.Config{Client: client, Table: table})
	valid := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"version": n(3), "schema": n(1), "createdAt": n(seedCreatedAt), "state": str(`{"ok":true}`),
		}
	}
	for _, tc := range []struct {
		name       string
		change     func(item map[string]types.AttributeValue)
		wantReason string
	}{
		{"given state that is not JSON", func(i map[string]types.AttributeValue) { i["state"] = str(`{"foo":`) }, "state is not JSON"},
		{"given state stored as a map", func(i map[string]types.AttributeValue) {
			i["state"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"foo": str("bar")}}
		}, "state is a map, want a string"},
		{"given no state", func(i map[string]types.AttributeValue) { delete(i, "state") }, "state is missing, want a string"},
		{"given version stored as a string", func(i map[string]types.AttributeValue) { i["version"] = str("3") }, "version is a string, want a number"},
		{"given a fractional version", func(i map[string]types.AttributeValue) { i["version"] = &types.AttributeValueMemberN{Value: "3.5"} }, `version "3.5" is not an integer`},
		{"given schema stored as a string", func(i map[string]types.AttributeValue) { i["schema"] = str("1") }, "schema is a string, want a number"},
		{"given createdAt stored as a string", func(i map[string]types.AttributeValue) { i["createdAt"] = str("2000-01-01") }, "createdAt is a string, want a number"},
		{"given no createdAt", func(i map[string]types.AttributeValue) { delete(i, "createdAt") }, "createdAt is missing, want a number"},
	} {
		t.Run(tc.name+" when fetched then unusable and not found", func(t *testing.T) {
			t.Parallel()
			id := "repo:corrupt/" + strings.ReplaceAll(tc.name, " ", "-")
			item := valid()
			tc.change(item)
			item["aggregateId"] = str(id)
			if err := putItem(t.Context(), client, table, item); err != nil {
				t.Fatal(err)
			}

			_, err := st.Fetch(t.Context(), id, 1)
			if !errors.Is(err, snapshots.ErrNotFound) {
				t.Errorf("Fetch: %v, want errors.Is ErrNotFound", err)
			}
			var unusable *snapshots.UnusableError
			if !errors.As(err, &unusable) {
				t.Fatalf("Fetch: %v, want *UnusableError", err)
			}
			if unusable.Reason != tc.wantReason || unusable.AggregateID != id {
				t.Errorf("unusable %+v, want reason %q for %s", *unusable, tc.wantReason, id)
			}
			if !strings.HasPrefix(err.Error(), "snapshots/dynamo: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestStore_adapterLimits(t *testing.T) {
	t.Parallel()
	client, table := newTable(t)
	st := newStore(t, dynamo.Config{Client: client, Table: table})
	big := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`) }

	t.Run("given state just under 400 KB when stored then it round-trips", func(t *testing.T) {
		t.Parallel()
		state := big(dynamo.MaxItemBytes - 200)
		if err := st.Store(t.Context(), snapshots.Snapshot{AggregateID: "repo:big/fits", Version: 1, State: state}); err != nil {
			t.Fatalf("Store: %v", err)
		}
		got, err := st.Fetch(t.Context(), "repo:big/fits", 0)
		if err != nil || len(got.State) != len(state) {
			t.Fatalf("Fetch: %d bytes, %v; want %d bytes", len(got.State), err, len(state))
		}
	})
	t.Run("given state over 400 KB when stored then ErrTooLarge", func(t *testing.T) {
		t.Parallel()
		err := st.Store(t.Context(), snapshots.Snapshot{AggregateID: "repo:big/over", Version: 1, State: big(dynamo.MaxItemBytes)})
		if !errors.Is(err, dynamo.ErrTooLarge) {
			t.Fatalf("Store: %v, want ErrTooLarge", err)
		}
	})
	t.Run("given state that is not UTF-8 when stored then ErrInvalidInput", func(t *testing.T) {
		t.Parallel()
		err := st.Store(t.Context(), snapshots.Snapshot{AggregateID: "repo:bytes/x", Version: 1, State: json.RawMessage("\"\xff\xfe\"")})
		if !errors.Is(err, snapshots.ErrInvalidInput) {
			t.Fatalf("Store: %v, want ErrInvalidInput", err)
		}
	})
}

func TestStore_missingTable(t *testing.T) {
	t.Parallel()
	st := newStore(t, dynamo.Config{Client: awstest.DynamoDB(t), Table: awstest.Prefix(t, "snapshots") + "absent"})

	_, err := st.Fetch(t.Context(), "repo:a/b", 1)
	if err == nil || errors.Is(err, snapshots.ErrNotFound) {
		t.Errorf("Fetch from a missing table: %v, want an error that is not ErrNotFound", err)
	}
	err = st.Store(t.Context(), snapshots.Snapshot{AggregateID: "repo:a/b", Version: 1, State: json.RawMessage(`{}`)})
	if err == nil || !strings.HasPrefix(err.Error(), "snapshots/dynamo: store repo:a/b at 1: ") {
		t.Errorf("Store into a missing table: %v, want a prefixed error", err)
	}
}

// newTable creates a snapshots table that only the calling test uses and deletes it after.
func newTable(tb testing.TB) (*dynamodb.Client, string) {
	tb.Helper()
	client := awstest.DynamoDB(tb)
	table := awstest.Prefix(tb, "snapshots") + "snapshots"
	if _, err := dynamo.CreateTable(context.Background(), client, table); err != nil {
		tb.Fatalf("create table: %v", err)
	}
	tb.Cleanup(func() { deleteTable(tb, client, table) })
	return client, table
}

func deleteTable(tb testing.TB, client *dynamodb.Client, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	var notFound *types.ResourceNotFoundException
	if err != nil && !errors.As(err, &notFound) {
		tb.Errorf("delete table %s: %v", table, err)
	}
}

func newStore(tb testing.TB, cfg dynamo.Config) *dynamo.Store {
	tb.Helper()
	st, err := dynamo.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func putItem(ctx context.Context, client *dynamodb.Client, table string, item map[string]types.AttributeValue) error {
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	return err
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func sameValue(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	}
	return false
}
