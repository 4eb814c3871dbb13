package faulttest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/client"
	"buildledger/domain"
)

// snapshotCase is a stream with a history whose snapshot is replaced before probe commands
// whose decisions depend on the whole history.
type snapshotCase struct {
	kind    string
	history func(name string) []domain.Command
	// probe sends the commands after the snapshot was replaced and checks their decisions.
	probe func(t *testing.T, s *stack, name string)
}

func snapshotCases() []snapshotCase {
	return []snapshotCase{
		{
			kind: "repo",
			history: func(name string) []domain.Command {
				var cmds []domain.Command
				for i := range 4 {
					cmds = append(cmds, domain.CreateBuild{User: "snap", Repo: name, Tag: fmt.Sprintf("v%d", i+1), Browsers: []string{"chrome", "firefox"}})
				}
				// Build 2 finishes: it becomes the latest build, builds 1, 3 and 4 stay open.
				for _, b := range []string{"chrome", "firefox"} {
					cmds = append(cmds, domain.UpdateBuild{User: "snap", Repo: name, BuildID: 2, Browser: b, Status: "passed", Finished: true})
				}
				return cmds
			},
			probe: func(t *testing.T, s *stack, name string) {
				e := s.probeAccepted(t, domain.CreateBuild{User: "snap", Repo: name, Tag: "v5", Browsers: []string{"chrome"}})
				if b, ok := e[0].(domain.BuildCreated); !ok || b.BuildID != 5 {
					t.Errorf("when the next build is created then it is build 5; got %+v", e)
				}
				e = s.probeAccepted(t, domain.UpdateBuild{User: "snap", Repo: name, BuildID: 1, Browser: "firefox", Status: "running"})
				if u, ok := e[0].(domain.BuildBrowserUpdated); !ok || u.Pending != 2 || !u.BrowserPending {
					t.Errorf("when build 1 is updated then both its browsers are still pending; got %+v", e)
				}
				reason := s.probeRejected(t, domain.UpdateBuild{User: "snap", Repo: name, BuildID: 2, Browser: "chrome", Status: "failed", Finished: true})
				if !strings.Contains(reason, "build 2 of snap/"+name+" has finished") {
					t.Errorf("when finished build 2 is updated then the rejection says it has finished; got %q", reason)
				}
			},
		},
		{
			kind: "lock",
			history: func(name string) []domain.Command {
				return []domain.Command{
					domain.Lock{Env: name, User: "alice", Meta: "deploy 1"},
					domain.Release{Env: name, User: "alice"},
					domain.Lock{Env: name, User: "alice", Meta: "deploy 2"},
					domain.Lock{Env: name, User: "alice", Meta: "deploy 2, again"},
					domain.Lock{Env: name, User: "alice", Meta: "deploy 2, once more"},
				}
			},
			probe: func(t *testing.T, s *stack, name string) {
				if reason := s.probeRejected(t, domain.Lock{Env: name, User: "bob"}); reason != "Still locked at env "+name+" by alice" {
					t.Errorf("when bob locks then he is told alice holds the lock; got %q", reason)
				}
				locked := s.event(t, domain.LockStreamID(name), 3)
				e := s.probeAccepted(t, domain.Release{Env: name, User: "alice"})
				if r, ok := e[0].(domain.Released); !ok || r.LockID != locked.(domain.Locked).LockID {
					t.Errorf("when alice releases then the lock she took at version 3 is released; got %+v", e)
				}
			},
		},
		{
			kind: "job",
			history: func(name string) []domain.Command {
				var cmds []domain.Command
				for i := range 7 {
					if i%2 == 0 {
						cmds = append(cmds, domain.StartJob{Jobname: name, User: "ci", Version: "9e1f"})
					} else {
						cmds = append(cmds, domain.EndJob{Jobname: name, Version: "9e1f"})
					}
				}
				return cmds
			},
			probe: func(t *testing.T, s *stack, name string) {
				s.probeRejected(t, domain.StartJob{Jobname: name, User: "ci", Version: "9e1f"})
				started := s.event(t, domain.JobStreamID(name, "9e1f"), 7)
				e := s.probeAccepted(t, domain.EndJob{Jobname: name, Version: "9e1f", Skipped: true})
				if r, ok := e[0].(domain.JobEnded); !ok || r.RunID != started.(domain.JobStarted).RunID {
					t.Errorf("when the job ends then the run started at version 7 ends; got %+v", e)
				}
			},
		},
		{
			kind: "status",
			history: func(name string) []domain.Command {
				return []domain.Command{
					domain.StartStatus{Pkg: name, Env: "prod", Version: "1.0.0", Locales: []string{"en-US", "fr-FR", "de-DE"}},
					domain.RecordStatusEvent{Pkg: name, Env: "prod", Version: "1.0.0", Locale: "en-US", Message: "building"},
					domain.CompleteLocale{Pkg: name, Env: "prod", Version: "1.0.0", Locale: "en-US"},
					domain.RecordStatusEvent{Pkg: name, Env: "prod", Version: "1.0.0", Locale: "fr-FR", Message: "building"},
					domain.CompleteLocale{Pkg: name, Env: "prod", Version: "1.0.0", Locale: "fr-FR"},
				}
			},
			probe: func(t *testing.T, s *stack, name string) {
				e := s.probeAccepted(t, domain.CompleteLocale{Pkg: name, Env: "prod", Version: "1.0.0", Locale: "de-DE"})
				if len(e) != 2 {
					t.Fatalf("when the last locale completes then the status completes too; got %+v", e)
				}
				if c, ok := e[0].(domain.LocaleCompleted); !ok || c.Count != 3 || c.Total != 100 {
					t.Errorf("when the last locale completes then 3 of 3 are done; got %+v", e[0])
				}
				if _, ok := e[1].(domain.StatusCompleted); !ok {
					t.Errorf("when the last locale completes then StatusCompleted follows; got %+v", e[1])
				}
			},
		},
	}
}

// damage replaces a snapshot item's content; it returns the item to store.
type damage struct {
	name string
	// unusable is whether the worker must ignore the snapshot and replay the stream.
	unusable bool
	apply    func(item map[string]types.AttributeValue, otherKind string)
}

func damages() []damage {
	return []damage{
		{"an intact", false, func(map[string]types.AttributeValue, string) {}},
		{"an undecodable", true, func(item map[string]types.AttributeValue, _ string) {
			state := attrString(item, "state")
			item["state"] = &types.AttributeValueMemberS{Value: state[:len(state)/2]}
		}},
		{"an old-schema", true, func(item map[string]types.AttributeValue, _ string) {
			item["schema"] = &types.AttributeValueMemberN{Value: "0"}
		}},
		{"another kind's", true, func(item map[string]types.AttributeValue, otherKind string) {
			item["state"] = &types.AttributeValueMemberS{Value: otherKind}
		}},
	}
}

func TestSnapshots_GivenDamagedSnapshot_WhenNextCommandArrives_ThenStreamIsReplayedDecisionIsRightAndMetricCountsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, "snapshots", stackConfig{})
	_, stopHistory := s.startWorker(t, workerConfig{SnapshotEvery: 3})

	cases, damages := snapshotCases(), damages()
	type run struct {
		c      snapshotCase
		d      damage
		name   string
		stream string
		length int
	}
	var runs []run
	var sends []streamPlan
	for di, d := range damages {
		for _, c := range cases {
			r := run{c: c, d: d, name: fmt.Sprintf("snap-%s-%d", c.kind, di)}
			history := c.history(r.name)
			r.stream, r.length = history[0].StreamID(), len(history)
			p := streamPlan{Stream: r.stream}
			for i, cmd := range history {
				p.Commands = append(p.Commands, plannedCommand{ID: fmt.Sprintf("%s-h%d", r.name, i), Command: cmd})
			}
			runs, sends = append(runs, r), append(sends, p)
		}
	}
	if err := sendPlans(ctx, s.client, sends, 0, 100); err != nil {
		t.Fatal(err)
	}
	s.waitStreams(t, sends, 100, 60*time.Second)
	snapshotOf := map[string]map[string]types.AttributeValue{}
	waitFor(t, 30*time.Second, "a snapshot of every stream", func() (bool, string) {
		for _, r := range runs {
			item, err := s.snapshotItem(ctx, r.stream)
			if err != nil || item == nil {
				return false, fmt.Sprintf("%s: %v", r.stream, err)
			}
			snapshotOf[r.stream] = item
		}
		return true, ""
	})
	stateOfKind := map[string]string{}
	for _, r := range runs {
		stateOfKind[r.c.kind] = attrString(snapshotOf[r.stream], "state")
	}
	otherKind := map[string]string{"repo": "lock", "lock": "repo", "job": "status", "status": "job"}
	// A new worker, as after a restart or on another machine, holds no aggregate in memory:
	// it loads each stream from the snapshot store.
	stopHistory()
	w, stop := s.startWorker(t, workerConfig{SnapshotEvery: 3})
	defer stop()

	for _, r := range runs {
		t.Run(fmt.Sprintf("given %s snapshot of a %s stream", r.d.name, r.c.kind), func(t *testing.T) {
			item := snapshotOf[r.stream]
			if r.d.unusable {
				// The damaged snapshot claims to cover the whole stream, so only a full
				// replay can decide right.
				item["version"] = &types.AttributeValueMemberN{Value: strconv.Itoa(r.length)}
			}
			r.d.apply(item, stateOfKind[otherKind[r.c.kind]])
			if _, err := s.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.names.SnapshotsTable), Item: item}); err != nil {
				t.Fatal(err)
			}
			before := testutil.ToFloat64(w.Metrics().SnapshotsUnusable)
			r.c.probe(t, s, r.name)
			counted := testutil.ToFloat64(w.Metrics().SnapshotsUnusable) - before
			switch {
			case r.d.unusable && counted < 1:
				t.Errorf("then the worker counts the unusable snapshot; its metric rose by %v", counted)
			case !r.d.unusable && counted != 0:
				t.Errorf("then the snapshot is used; the unusable-snapshot metric rose by %v", counted)
			}
			recs, err := s.events.Load(ctx, r.stream, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i, rec := range recs {
				if rec.Version != int64(i+1) {
					t.Fatalf("%s: position %d holds version %d", r.stream, i+1, rec.Version)
				}
			}
		})
	}
	t.Logf("unusable snapshots counted: %v; snapshots taken: %v", testutil.ToFloat64(w.Metrics().SnapshotsUnusable), testutil.ToFloat64(w.Metrics().SnapshotsTaken))
}

// snapshotItem reads the stored snapshot item of a stream, nil when there is none.
func (s *stack) snapshotItem(ctx context.Context, stream string) (map[string]types.AttributeValue, error) {
	out, err := s.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.names.SnapshotsTable),
		Key:            map[string]types.AttributeValue{"aggregateId": &types.AttributeValueMemberS{Value: stream}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// probeAccepted sends cmd, waits for it to be accepted and returns the events it raised.
func (s *stack) probeAccepted(t *testing.T, cmd domain.Command) []domain.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := s.client.Do(ctx, cmd)
	if err != nil {
		t.Fatalf("when %s %+v then it is accepted; got %v", cmd.CommandType(), cmd, err)
	}
	if o.LastVersion == 0 {
		t.Fatalf("when %s %+v then it raises events; it raised none", cmd.CommandType(), cmd)
	}
	var events []domain.Event
	for v := o.FirstVersion; v <= o.LastVersion; v++ {
		events = append(events, s.event(t, o.Stream, v))
	}
	return events
}

// probeRejected sends cmd, waits for it to be rejected and returns the reason.
func (s *stack) probeRejected(t *testing.T, cmd domain.Command) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := s.client.Send(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.client.WaitOutcome(ctx, id)
	var rejected *client.RejectedError
	if !errors.As(err, &rejected) {
		t.Fatalf("when %s %+v then it is rejected; got %v", cmd.CommandType(), cmd, err)
	}
	return rejected.Reason
}

// event returns the decoded event of stream at version.
func (s *stack) event(t *testing.T, stream string, version int64) domain.Event {
	t.Helper()
	recs, err := s.events.LoadRange(context.Background(), stream, version, version)
	if err != nil || len(recs) != 1 {
		t.Fatalf("event %s@%d: %v, %d records", stream, version, err, len(recs))
	}
	e, err := domain.DecodeEvent(recs[0].Type, recs[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
