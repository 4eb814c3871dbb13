package app

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
	"buildledger/internal/awstest"
	"buildledger/projections"
	"buildledger/projections/projectionstest"
)

// inlineFixture is an installation on the emulator, its projector, and the event store a
// worker running that projector appends through.
type inlineFixture struct {
	app       *App
	projector *projections.Projector
	events    inlineEvents
	// inline are the records whose read side was committed with them.
	inline []eventstore.Record
}

func newInlineFixture(t *testing.T) *inlineFixture {
	t.Helper()
	names, err := handlers.NewNames(awstest.Prefix(t, "inline"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{AWS: awstest.Config(t), Names: names, DynamoDB: awstest.DynamoDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	created, err := a.CreateTables(context.Background())
	t.Cleanup(func() {
		for _, table := range created {
			_, _ = a.DynamoDB.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &inlineFixture{app: a}
	if f.projector, err = a.Projector(); err != nil {
		t.Fatal(err)
	}
	results, err := inlineResults(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	f.events = inlineEvents{Store: a.Events, reads: a.Reads, projector: f.projector, results: results,
		committed: func(recs []eventstore.Record) { f.inline = append(f.inline, recs...) }}
	return f
}

// counted fails unless the appends' read sides were counted as want (result → count).
func (f *inlineFixture) counted(t *testing.T, want map[string]float64) {
	t.Helper()
	for _, result := range []string{inlineCommitted, inlineDeferred, inlineRefused} {
		if got := testutil.ToFloat64(f.events.results.WithLabelValues(result)); got != want[result] {
			t.Errorf("read_side_inline_total{result=%q} = %v, want %v", result, got, want[result])
		}
	}
}

// do decides each command and appends its events through the worker's event store; with
// apply, the projector then applies them too, as it does when they are published.
func (f *inlineFixture) do(t *testing.T, w *projectionstest.Writer, apply bool, cmds ...domain.Command) []eventstore.Record {
	t.Helper()
	var all []eventstore.Record
	for _, c := range cmds {
		recs, err := w.Do(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandType(), err)
		}
		for _, r := range recs {
			if apply {
				if err := f.projector.Apply(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
		}
		all = append(all, recs...)
	}
	return all
}

func (f *inlineFixture) position(t *testing.T, stream string) int64 {
	t.Helper()
	pos, err := f.projector.Position(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return pos
}

var inlineStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestInlineEvents_given_the_projector_wrote_the_stream_then_a_commands_rows_are_committed_with_its_events(t *testing.T) {
	t.Parallel()
	f := newInlineFixture(t)
	w := projectionstest.NewWriter(f.events, 1, inlineStart)
	// The first command of each stream goes alone: the projector has not written it yet.
	first := f.do(t, w, false,
		domain.CreateBuild{User: "api", Repo: "foo", Tag: "main", Browsers: []string{"BrowserA", "BrowserB"}},
		domain.Lock{Env: "prod", User: "alice"},
		domain.StartStatus{Pkg: "ui", Env: "prod", Version: "1.0.0", Locales: []string{"en", "fr"}},
	)
	if len(f.inline) != 0 {
		t.Fatalf("records committed with their rows before the projector wrote the streams: %v", f.inline)
	}
	for _, r := range first {
		if err := f.projector.Apply(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	// Every later command's rows go with its events: no projector applies them here.
	later := f.do(t, w, false,
		domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserA", Status: "finished", Finished: true},
		domain.UpdateBuild{User: "api", Repo: "foo", BuildID: 1, Browser: "BrowserB", Status: "finished", Finished: true},
		domain.Lock{Env: "prod", User: "bob", Queue: true},
		domain.Release{Env: "prod", User: "alice"},
		domain.CompleteLocale{Pkg: "ui", Env: "prod", Version: "1.0.0", Locale: "en"},
		domain.CompleteLocale{Pkg: "ui", Env: "prod", Version: "1.0.0", Locale: "fr"},
	)
	if len(f.inline) != len(later) {
		t.Fatalf("%d of %d records committed with their rows", len(f.inline), len(later))
	}
	f.counted(t, map[string]float64{inlineDeferred: 3, inlineCommitted: 6})
	for _, r := range later {
		if pos := f.position(t, r.Stream); pos < r.Version {
			t.Errorf("position of %s = %d, want at least %d", r.Stream, pos, r.Version)
		}
	}
	projectionstest.SameAsReplay(t, f.app.Reads, f.app.Events)
}

func TestInlineEvents_given_the_read_side_moved_on_then_the_events_are_appended_alone(t *testing.T) {
	t.Parallel()
	f := newInlineFixture(t)
	ctx := context.Background()
	w := projectionstest.NewWriter(f.events, 1, inlineStart)
	f.do(t, w, true, domain.Lock{Env: "prod", User: "alice"})
	// Another writer moved the stream's position on (as a rebuild's fence does).
	moved := projections.Put{
		Table: projections.Table{Name: projections.TablePositions},
		Item:  projections.Item{"stream": "lock:prod", "version": int64(7)},
	}
	if err := f.app.Reads.Write(ctx, []projections.Put{moved}, nil); err != nil {
		t.Fatal(err)
	}
	recs := f.do(t, w, false, domain.Release{Env: "prod", User: "alice"})
	if len(f.inline) != 0 {
		t.Errorf("records committed with rows whose guard failed: %v", f.inline)
	}
	stored, err := f.app.Events.Load(ctx, "lock:prod", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[1].Version != recs[0].Version || stored[1].Type != recs[0].Type {
		t.Fatalf("stored events %v, want the lock and the release", stored)
	}
	if pos := f.position(t, "lock:prod"); pos != 7 {
		t.Errorf("position = %d, want 7 (left alone)", pos)
	}
	f.counted(t, map[string]float64{inlineDeferred: 1, inlineRefused: 1})
}
