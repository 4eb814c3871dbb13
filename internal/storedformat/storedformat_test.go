// Package storedformat_test holds what an earlier buildledger stored, and checks that
// today's code still reads it: stored data is forever, so events, outcomes and snapshots
// written by an earlier version must load, restore, replay and project to the same read
// rows.
//
// testdata/stored-2026-12-01.json is every item buildledger 5db0546 (before outcome codes,
// JobEnded.endedBy and strict command decoding) wrote for a representative history —
// dynostore's sample and a second build, two package statuses (one completed, one errored),
// locks with a refresh, a rejection and an uberlock, two job runs (one skipped), an invalid
// command and a Put — decided by that version's command handler with snapshots every two
// events, and the read rows its projector wrote from what it published. Items are in the
// attribute-value JSON `aws dynamodb scan` prints. The fixture was made once, by a throwaway
// program against that commit, and is never regenerated: if this test fails, today's code
// broke compatibility with stored data; fix the code, not the fixture.
package storedformat_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/domain"
	"buildledger/eventstore"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/eventstore/eventstoretest"
	"buildledger/handlers"
	"buildledger/internal/awstest"
	"buildledger/internal/convert"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
	"buildledger/projections/projectionstest"
	snapdynamo "buildledger/snapshots/dynamo"
)

const fixturePath = "testdata/stored-2026-12-01.json"

// Tables of the fixture besides the read tables, which carry their logical names.
const (
	tableEvents    = "events"
	tableCommands  = "commands"
	tableSnapshots = "snapshots"
)

// The stored layout as 5db0546 wrote it. The adapters own these names; the test spells
// them out on purpose, so that it checks the adapters against the stored items rather
// than against themselves.
const (
	attrStream      = "stream"
	attrVersion     = "version"
	attrCommandID   = "commandId"
	attrAggregateID = "aggregateId"
)

type item = map[string]types.AttributeValue

// fixture is the stored items of one earlier version, by table.
type fixture struct {
	writtenBy string
	tables    map[string][]item
}

func loadFixture(t *testing.T) fixture {
	t.Helper()
	fx := readFixture(t, fixturePath)
	for _, name := range []string{tableEvents, tableCommands, tableSnapshots} {
		if len(fx.tables[name]) == 0 {
			t.Fatalf("%s: no %s items", fixturePath, name)
		}
	}
	return fx
}

// readFixture decodes a fixture file of raw items per table, in DynamoDB's JSON form.
func readFixture(t *testing.T, path string) fixture {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		WrittenBy string                                  `json:"writtenBy"`
		Tables    map[string][]map[string]json.RawMessage `json:"tables"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	fx := fixture{writtenBy: doc.WrittenBy, tables: map[string][]item{}}
	for name, items := range doc.Tables {
		for i, it := range items {
			decoded, err := convert.Attributes(it, decodeAV)
			if err != nil {
				t.Fatalf("%s: %s item %d: %v", path, name, i, err)
			}
			fx.tables[name] = append(fx.tables[name], decoded)
		}
	}
	return fx
}

// decodeAV reads one attribute value in DynamoDB's JSON form, e.g. {"S":"x"} or {"N":"1"}.
func decodeAV(raw json.RawMessage) (types.AttributeValue, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("%s: want exactly one type key", raw)
	}
	for typ, v := range m {
		switch typ {
		case "S":
			var s string
			err := json.Unmarshal(v, &s)
			return &types.AttributeValueMemberS{Value: s}, err
		case "N":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return nil, fmt.Errorf("number %q: %w", s, err)
			}
			return &types.AttributeValueMemberN{Value: s}, nil
		case "BOOL":
			var b bool
			err := json.Unmarshal(v, &b)
			return &types.AttributeValueMemberBOOL{Value: b}, err
		case "NULL":
			return &types.AttributeValueMemberNULL{Value: true}, nil
		case "B":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			b, err := base64.StdEncoding.DecodeString(s)
			return &types.AttributeValueMemberB{Value: b}, err
		case "SS", "NS":
			var ss []string
			if err := json.Unmarshal(v, &ss); err != nil {
				return nil, err
			}
			if typ == "SS" {
				return &types.AttributeValueMemberSS{Value: ss}, nil
			}
			return &types.AttributeValueMemberNS{Value: ss}, nil
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, err
			}
			out, err := convert.All(make([]types.AttributeValue, 0, len(l)), l, decodeAV)
			return &types.AttributeValueMemberL{Value: out}, err
		case "M":
			var mm map[string]json.RawMessage
			if err := json.Unmarshal(v, &mm); err != nil {
				return nil, err
			}
			out, err := convert.Attributes(mm, decodeAV)
			return &types.AttributeValueMemberM{Value: out}, err
		}
		return nil, fmt.Errorf("unknown attribute type %q", typ)
	}
	panic("unreachable")
}

// showAV writes an attribute value back in DynamoDB's JSON form, for comparing and reporting.
func showAV(av types.AttributeValue) string {
	var v any
	switch av := av.(type) {
	case nil:
		return "(absent)"
	case *types.AttributeValueMemberS:
		v = map[string]string{"S": av.Value}
	case *types.AttributeValueMemberN:
		v = map[string]string{"N": av.Value}
	case *types.AttributeValueMemberBOOL:
		v = map[string]bool{"BOOL": av.Value}
	case *types.AttributeValueMemberNULL:
		v = map[string]bool{"NULL": true}
	case *types.AttributeValueMemberB:
		v = map[string]string{"B": base64.StdEncoding.EncodeToString(av.Value)}
	case *types.AttributeValueMemberSS:
		v = map[string][]string{"SS": av.Value}
	case *types.AttributeValueMemberNS:
		v = map[string][]string{"NS": av.Value}
	case *types.AttributeValueMemberL:
		parts := make([]json.RawMessage, len(av.Value))
		for i, e := range av.Value {
			parts[i] = json.RawMessage(showAV(e))
		}
		v = map[string][]json.RawMessage{"L": parts}
	case *types.AttributeValueMemberM:
		parts := make(map[string]json.RawMessage, len(av.Value))
		for k, e := range av.Value {
			parts[k] = json.RawMessage(showAV(e))
		}
		v = map[string]map[string]json.RawMessage{"M": parts}
	default:
		return fmt.Sprintf("(%T)", av)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

func str(it item, name string) string {
	if s, ok := it[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func num(t *testing.T, it item, name string) int64 {
	t.Helper()
	av, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(av.Value, 10, 64)
	if err != nil {
		t.Fatalf("attribute %s: %v", name, err)
	}
	return n
}

// installation is a fresh set of today's tables holding the fixture's stored items.
type installation struct {
	client *dynamodb.Client
	names  handlers.Names
	events *esdynamo.Store
	snaps  *snapdynamo.Store
}

func newInstallation(t *testing.T, fx fixture) installation {
	t.Helper()
	ctx := t.Context()
	client := awstest.DynamoDB(t)
	names, err := handlers.NewNames(awstest.Prefix(t, "storedformat"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { awstest.DeleteTables(context.WithoutCancel(t.Context()), t, client, names.Prefix) })
	if _, err := esdynamo.CreateTables(ctx, client, names.EventsTable, names.CommandsTable); err != nil {
		t.Fatal(err)
	}
	if _, err := snapdynamo.CreateTable(ctx, client, names.SnapshotsTable); err != nil {
		t.Fatal(err)
	}
	putRaw(t, client, names.EventsTable, fx.tables[tableEvents])
	putRaw(t, client, names.CommandsTable, fx.tables[tableCommands])
	putRaw(t, client, names.SnapshotsTable, fx.tables[tableSnapshots])
	events, err := esdynamo.New(esdynamo.Config{Client: client, EventsTable: names.EventsTable, CommandsTable: names.CommandsTable})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapdynamo.New(snapdynamo.Config{Client: client, Table: names.SnapshotsTable})
	if err != nil {
		t.Fatal(err)
	}
	return installation{client: client, names: names, events: events, snaps: snaps}
}

// putRaw writes items as they are, around every store.
func putRaw(t *testing.T, client *dynamodb.Client, table string, items []item) {
	t.Helper()
	for chunk := range slices.Chunk(items, 25) {
		reqs := make([]types.WriteRequest, len(chunk))
		for i, it := range chunk {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: it}}
		}
		pending := map[string][]types.WriteRequest{table: reqs}
		for attempt := 0; len(pending[table]) > 0; attempt++ {
			if attempt == 10 {
				t.Fatalf("write %s: items still unprocessed after %d attempts", table, attempt)
			}
			out, err := client.BatchWriteItem(t.Context(), &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				t.Fatalf("write %s: %v", table, err)
			}
			pending = out.UnprocessedItems
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
		}
	}
}

func scanRaw(t *testing.T, client *dynamodb.Client, table string) []item {
	t.Helper()
	var items []item
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("scan %s: %v", table, err)
		}
		items = append(items, page.Items...)
	}
	return items
}

// storedStreams returns the fixture's events by stream, in version order, without the
// store's own bookkeeping items.
func storedStreams(t *testing.T, fx fixture) (map[string][]item, []string) {
	t.Helper()
	byStream := map[string][]item{}
	var order []string
	for _, it := range fx.tables[tableEvents] {
		s := str(it, attrStream)
		if strings.HasPrefix(s, eventstore.ReservedStreamPrefix) {
			continue
		}
		if byStream[s] == nil {
			order = append(order, s)
		}
		byStream[s] = append(byStream[s], it)
	}
	for _, items := range byStream {
		slices.SortFunc(items, func(a, b item) int { return cmp.Compare(num(t, a, attrVersion), num(t, b, attrVersion)) })
	}
	slices.Sort(order)
	return byStream, order
}

// storedRecord is the record a stored event item holds, read from the item itself.
func storedRecord(t *testing.T, it item) eventstore.Record {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, str(it, "recordedAt"))
	if err != nil {
		t.Fatalf("event %s@%d: recordedAt: %v", str(it, attrStream), num(t, it, attrVersion), err)
	}
	return eventstore.Record{
		Stream:     str(it, attrStream),
		Version:    num(t, it, attrVersion),
		Key:        str(it, "key"),
		Type:       str(it, "type"),
		Body:       json.RawMessage(str(it, "body")),
		CommandID:  str(it, attrCommandID),
		Metadata:   eventstore.Metadata{CorrelationID: str(it, "correlationId"), CausationID: str(it, "causationId")},
		RecordedAt: at.UTC(),
	}
}

func sameRecord(got, want eventstore.Record) bool {
	return got.Stream == want.Stream && got.Version == want.Version && got.Key == want.Key &&
		got.Type == want.Type && bytes.Equal(got.Body, want.Body) && got.CommandID == want.CommandID &&
		got.Metadata == want.Metadata && got.RecordedAt.Equal(want.RecordedAt)
}

// aggregateStream reports whether stream is one of the domain's (not a Put's).
func aggregateStream(stream string) bool {
	return !strings.HasPrefix(stream, eventstore.PutStreamPrefix)
}

func TestStoredFormat_Given5db0546StoredItems_WhenReadByTodaysCode_ThenTheyLoadRestoreAndReplayTheSame(t *testing.T) {
	t.Parallel()
	fx := loadFixture(t)
	t.Logf("fixture written by %s: %d events, %d outcomes, %d snapshots",
		fx.writtenBy, len(fx.tables[tableEvents]), len(fx.tables[tableCommands]), len(fx.tables[tableSnapshots]))
	in := newInstallation(t, fx)
	byStream, streams := storedStreams(t, fx)

	t.Run("given every stored stream when loaded then each record is the stored one, decodes, and each aggregate rehydrates", func(t *testing.T) {
		for _, stream := range streams {
			stored := byStream[stream]
			recs, err := in.events.Load(t.Context(), stream, 1)
			if err != nil {
				t.Errorf("load %s: %v", stream, err)
				continue
			}
			if len(recs) != len(stored) {
				t.Errorf("load %s: %d records, %d stored", stream, len(recs), len(stored))
				continue
			}
			history := make([]domain.Event, 0, len(recs))
			for i, rec := range recs {
				if want := storedRecord(t, stored[i]); !sameRecord(rec, want) {
					t.Errorf("load %s: record %d is\n  %+v\nstored\n  %+v", stream, i+1, rec, want)
				}
				if !aggregateStream(stream) {
					if rec.Type != eventstore.PutEventType || !json.Valid(rec.Body) {
						t.Errorf("put %s: type %q, body %s", stream, rec.Type, rec.Body)
					}
					continue
				}
				e, err := domain.DecodeEvent(rec.Type, rec.Body)
				if err != nil {
					t.Errorf("decode %s@%d: %v", stream, rec.Version, err)
					continue
				}
				history = append(history, e)
			}
			if !aggregateStream(stream) || len(history) != len(recs) {
				continue
			}
			agg, err := domain.Rehydrate(stream, history)
			if err != nil {
				t.Errorf("rehydrate %s: %v", stream, err)
			} else if agg.Version() != int64(len(recs)) {
				t.Errorf("rehydrate %s: version %d, want %d", stream, agg.Version(), len(recs))
			}
		}
	})

	t.Run("given every stored event when read in time order then ReadAll returns each once, in key order", func(t *testing.T) {
		var want []string
		for _, stream := range streams {
			for _, it := range byStream[stream] {
				want = append(want, str(it, "key"))
			}
		}
		slices.Sort(want)
		if got := eventstoretest.Keys(eventstoretest.ReadAll(t, in.events, "", 7)); !slices.Equal(got, want) {
			t.Errorf("ReadAll returned keys\n  %v\nstored\n  %v", got, want)
		}
	})

	t.Run("given every stored outcome when read then status, reason and versions are the stored ones and no code is invented", func(t *testing.T) {
		for _, it := range fx.tables[tableCommands] {
			id := str(it, attrCommandID)
			o, err := in.events.Outcome(t.Context(), id)
			if err != nil {
				t.Errorf("outcome %s: %v", id, err)
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, str(it, "recordedAt"))
			if err != nil {
				t.Fatalf("outcome %s: recordedAt: %v", id, err)
			}
			want := eventstore.Outcome{
				CommandID:    id,
				CommandType:  str(it, "commandType"),
				Status:       str(it, "status"),
				Stream:       str(it, attrStream),
				FirstVersion: num(t, it, "firstVersion"),
				LastVersion:  num(t, it, "lastVersion"),
				Version:      num(t, it, attrVersion),
				Reason:       str(it, "reason"),
				BodyHash:     str(it, "bodyHash"),
				RecordedAt:   at.UTC(),
			}
			got := o
			got.RecordedAt = got.RecordedAt.UTC()
			if got != want {
				t.Errorf("outcome %s is\n  %+v\nstored\n  %+v", id, got, want)
			}
			if o.Code != "" {
				t.Errorf("outcome %s: code %q, but outcomes stored before codes have none", id, o.Code)
			}
			if o.Status != eventstore.OutcomeAccepted || o.LastVersion == 0 {
				continue
			}
			// A duplicate of an accepted command re-publishes the events its outcome names.
			recs, err := in.events.LoadRange(t.Context(), o.Stream, o.FirstVersion, o.LastVersion)
			if err != nil {
				t.Errorf("outcome %s: load %s %d..%d: %v", id, o.Stream, o.FirstVersion, o.LastVersion, err)
				continue
			}
			if int64(len(recs)) != o.LastVersion-o.FirstVersion+1 {
				t.Errorf("outcome %s: %s %d..%d holds %d events", id, o.Stream, o.FirstVersion, o.LastVersion, len(recs))
			}
			for _, rec := range recs {
				if rec.CommandID != id {
					t.Errorf("outcome %s names %s@%d, which command %q wrote", id, rec.Stream, rec.Version, rec.CommandID)
				}
			}
		}
	})

	t.Run("given every stored snapshot when fetched and restored then it equals the aggregate rehydrated from the events up to its version", func(t *testing.T) {
		for _, it := range fx.tables[tableSnapshots] {
			stream := str(it, attrAggregateID)
			empty, err := domain.NewAggregate(stream)
			if err != nil {
				t.Errorf("snapshot %s: %v", stream, err)
				continue
			}
			snap, err := in.snaps.Fetch(t.Context(), stream, empty.SnapshotSchema())
			if err != nil {
				t.Errorf("fetch snapshot %s (schema %d): %v", stream, empty.SnapshotSchema(), err)
				continue
			}
			if snap.Version != num(t, it, attrVersion) || int64(snap.Schema) != num(t, it, "schema") || string(snap.State) != str(it, "state") ||
				snap.CreatedAt.UnixMilli() != num(t, it, "createdAt") {
				t.Errorf("snapshot %s is %+v; stored %v", stream, snap, it)
			}
			restored, err := domain.RestoreAggregate(stream, snap.Version, snap.Schema, snap.State)
			if heldLockWithoutToken(stream, snap.State) {
				// A held lock's snapshot from before fencing tokens cannot say at which
				// version the lock was granted: it is unusable by design, and the stream is
				// replayed from its events instead, as for any unusable snapshot.
				if !errors.Is(err, domain.ErrUnusableSnapshot) || !strings.Contains(err.Error(), "no fencing token") {
					t.Errorf("restore %s at %d: %v; want it unusable for want of a fencing token", stream, snap.Version, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("restore %s at %d: %v", stream, snap.Version, err)
				continue
			}
			recs, err := in.events.LoadRange(t.Context(), stream, 1, snap.Version)
			if err != nil {
				t.Fatalf("load %s: %v", stream, err)
			}
			history := make([]domain.Event, len(recs))
			for i, rec := range recs {
				if history[i], err = domain.DecodeEvent(rec.Type, rec.Body); err != nil {
					t.Fatalf("decode %s@%d: %v", stream, rec.Version, err)
				}
			}
			rehydrated, err := domain.Rehydrate(stream, history)
			if err != nil {
				t.Fatalf("rehydrate %s: %v", stream, err)
			}
			got, err := restored.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			want, err := rehydrated.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			if restored.Version() != rehydrated.Version() || !bytes.Equal(got, want) {
				t.Errorf("snapshot %s restored at version %d to\n  %s\nthe events up to it rehydrate at version %d to\n  %s",
					stream, restored.Version(), got, rehydrated.Version(), want)
			}
		}
	})

	t.Run("given the stored events when replayed then the read rows are the stored ones, item for item", func(t *testing.T) {
		reads := newReadModel(t, in, in.names.Prefix)
		replayer, err := projections.NewReplayer(projections.ReplayerConfig{Store: reads, Events: in.events, Scanner: in.events})
		if err != nil {
			t.Fatal(err)
		}
		res, err := replayer.Replay(t.Context(), projections.ReplayScope{})
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		compareReadTables(t, in.client, in.names.Prefix, res.Generation, fx)
	})

	t.Run("given the stored events when applied by the live projector then the read rows are the stored ones, item for item", func(t *testing.T) {
		prefix := awstest.Prefix(t, "storedformat-live")
		t.Cleanup(func() { awstest.DeleteTables(context.WithoutCancel(t.Context()), t, in.client, prefix) })
		reads := newReadModel(t, in, prefix)
		p, err := projections.NewProjector(projections.ProjectorConfig{Store: reads, Events: in.events})
		if err != nil {
			t.Fatal(err)
		}
		if err := projectionstest.ApplyAll(t.Context(), in.events, p, 4); err != nil {
			t.Fatalf("apply: %v", err)
		}
		compareReadTables(t, in.client, prefix, 0, fx)
	})
}

// newReadModel creates today's read tables under prefix, empty.
func newReadModel(t *testing.T, in installation, prefix string) *projdynamo.Store {
	t.Helper()
	if _, err := projdynamo.CreateTables(t.Context(), in.client, prefix); err != nil {
		t.Fatal(err)
	}
	reads, err := projdynamo.New(projdynamo.Config{Client: in.client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return reads
}

// compareReadTables reports, item by item and attribute by attribute, how the read tables
// of generation gen under prefix differ from the fixture's.
func compareReadTables(t *testing.T, client *dynamodb.Client, prefix string, gen int64, fx fixture) {
	t.Helper()
	var names []string
	for _, s := range projections.Schemas() {
		if s.Generational {
			names = append(names, s.Name)
		}
	}
	for name := range fx.tables {
		switch _, known := projections.SchemaOf(name); {
		case name == tableEvents || name == tableCommands || name == tableSnapshots:
		case !known:
			t.Errorf("the fixture's table %s is no read table of today's code", name)
		case !slices.Contains(names, name):
			t.Errorf("the fixture's table %s is not one a replay rebuilds", name)
		}
	}
	for _, name := range names {
		schema, _ := projections.SchemaOf(name)
		keyAttrs := []string{schema.PartitionKey}
		if schema.SortKey != "" {
			keyAttrs = append(keyAttrs, schema.SortKey)
		}
		keyOf := func(it item) string {
			parts := make([]string, len(keyAttrs))
			for i, a := range keyAttrs {
				parts[i] = a + "=" + showAV(it[a])
			}
			return strings.Join(parts, " ")
		}
		want := map[string]item{}
		for _, it := range fx.tables[name] {
			want[keyOf(it)] = it
		}
		got := map[string]item{}
		physical := projections.PhysicalName(prefix, projections.Table{Name: name, Generation: gen})
		for _, it := range scanRaw(t, client, physical) {
			got[keyOf(it)] = it
		}
		for _, k := range sortedUnion(want, got) {
			g, w := got[k], want[k]
			switch {
			case w == nil:
				t.Errorf("%s [%s]: today's code writes an item the fixture does not have: %s", name, k, showItem(g))
			case g == nil:
				t.Errorf("%s [%s]: today's code writes no such item; the fixture has %s", name, k, showItem(w))
			default:
				for _, d := range diffAttrs(g, w) {
					t.Errorf("%s [%s]: %s", name, k, d)
				}
			}
		}
	}
}

// sortedUnion returns the keys of a and b, each once, sorted.
func sortedUnion[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func diffAttrs(got, want item) []string {
	var out []string
	for _, a := range sortedUnion(want, got) {
		if g, w := showAV(got[a]), showAV(want[a]); g != w {
			out = append(out, fmt.Sprintf("attribute %s is %s, the fixture has %s", a, g, w))
		}
	}
	return out
}

func showItem(it item) string {
	attrs := make([]string, 0, len(it))
	for a := range it {
		attrs = append(attrs, a)
	}
	slices.Sort(attrs)
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = fmt.Sprintf("%q:%s", a, showAV(it[a]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// heldLockWithoutToken reports a lock snapshot of a held lock written before fencing tokens.
func heldLockWithoutToken(stream string, state []byte) bool {
	var s struct {
		Held  bool  `json:"held"`
		Token int64 `json:"token"`
	}
	return strings.HasPrefix(stream, domain.KindLock+":") && json.Unmarshal(state, &s) == nil && s.Held && s.Token == 0
}
