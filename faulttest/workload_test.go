package faulttest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/client"
	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/projections"
	"buildledger/projections/memory"
	"buildledger/projections/projectionstest"
)

// plannedCommand is one command of a workload with its idempotency key.
type plannedCommand struct {
	ID      string
	Command domain.Command
}

// streamPlan is what one stream receives, in the order it is sent.
type streamPlan struct {
	Stream   string
	Commands []plannedCommand
}

// acceptableWorkload returns perStream commands for each of n streams, all of which the
// domain accepts when they are decided in the order sent, each raising exactly one event:
// lock/release pairs, builds, job starts and ends, and package statuses with their status
// events. Ids start with tag.
func acceptableWorkload(tag string, n, perStream int) []streamPlan {
	plans := make([]streamPlan, n)
	for i := range plans {
		var next func(j int) domain.Command
		switch i % 4 {
		case 0:
			env, user := fmt.Sprintf("env%02d", i), fmt.Sprintf("user%02d", i)
			next = func(j int) domain.Command {
				if j%2 == 0 {
					return domain.Lock{Env: env, User: user, Meta: fmt.Sprintf("deploy %d", j/2)}
				}
				return domain.Release{Env: env, User: user}
			}
		case 1:
			repo := fmt.Sprintf("repo%02d", i)
			next = func(j int) domain.Command {
				return domain.CreateBuild{User: "ci", Repo: repo, Tag: fmt.Sprintf("v1.%d", j), Browsers: []string{"chrome", "firefox"}}
			}
		case 2:
			job := fmt.Sprintf("job%02d", i)
			next = func(j int) domain.Command {
				if j%2 == 0 {
					return domain.StartJob{Jobname: job, User: "ci", Version: "3f2a9c1"}
				}
				return domain.EndJob{Jobname: job, Version: "3f2a9c1", Skipped: j%4 == 3}
			}
		default:
			pkg := fmt.Sprintf("pkg%02d", i)
			next = func(j int) domain.Command {
				if j == 0 {
					return domain.StartStatus{Pkg: pkg, Env: "prod", Version: "2.0.0", PreviousVersion: "1.9.0", LocaleCount: 3}
				}
				return domain.RecordStatusEvent{Pkg: pkg, Env: "prod", Version: "2.0.0", Locale: "en-US", Message: fmt.Sprintf("step %d", j)}
			}
		}
		for j := range perStream {
			cmd := next(j)
			plans[i].Stream = cmd.StreamID()
			plans[i].Commands = append(plans[i].Commands, plannedCommand{ID: fmt.Sprintf("%s-s%02d-c%03d", tag, i, j), Command: cmd})
		}
	}
	return plans
}

func totalCommands(plans []streamPlan) int {
	n := 0
	for _, p := range plans {
		n += len(p.Commands)
	}
	return n
}

// sendPlans sends commands [from, to) of every stream with c: the streams in parallel, each
// stream's commands one after the other, so that the queue holds them in order.
func sendPlans(ctx context.Context, c *client.Client, plans []streamPlan, from, to int) error {
	return forEach(16, plans, func(p streamPlan) error {
		for _, pc := range p.Commands[min(from, len(p.Commands)):min(to, len(p.Commands))] {
			if _, err := c.Send(ctx, pc.Command, client.WithID(pc.ID)); err != nil {
				return fmt.Errorf("send %s: %w", pc.ID, err)
			}
		}
		return nil
	})
}

// waitStreams waits until every stream holds its first upto commands' events.
func (s *stack) waitStreams(t *testing.T, plans []streamPlan, upto int, timeout time.Duration) {
	t.Helper()
	waitEveryStream(t, plans, upto, timeout, "every command's events", "done", s.events.Version)
}

// waitProjected waits until the read models reflect every stream's last event.
func (s *stack) waitProjected(t *testing.T, plans []streamPlan, timeout time.Duration) {
	t.Helper()
	s.waitProjectedUpTo(t, plans, 1<<30, timeout)
}

// waitProjectedUpTo waits until the read models reflect the events of every stream's first
// upto commands.
func (s *stack) waitProjectedUpTo(t *testing.T, plans []streamPlan, upto int, timeout time.Duration) {
	t.Helper()
	waitEveryStream(t, plans, upto, timeout, "the read models to reflect every event", "projected", s.queries.Position)
}

// waitEveryStream waits until position, read for every stream at once, reaches the events
// of the stream's first upto commands; what names the wait, and reached the streams that
// got there in the progress it reports.
func waitEveryStream(t *testing.T, plans []streamPlan, upto int, timeout time.Duration, what, reached string,
	position func(ctx context.Context, stream string) (int64, error)) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, timeout, what, func() (bool, string) {
		var mu sync.Mutex
		done, behind := 0, []string{}
		_ = forEach(8, plans, func(p streamPlan) error {
			v, err := position(ctx, p.Stream)
			want := int64(min(upto, len(p.Commands)))
			mu.Lock()
			defer mu.Unlock()
			if err == nil && v >= want {
				done++
			} else if len(behind) < 3 {
				behind = append(behind, fmt.Sprintf("%s at %d of %d (%v)", p.Stream, v, want, err))
			}
			return nil
		})
		return done == len(plans), fmt.Sprintf("%d of %d streams %s; behind: %s", done, len(plans), reached, strings.Join(behind, ", "))
	})
}

// storedEvents returns how many events the streams of plans hold together.
func (s *stack) storedEvents(plans []streamPlan) (int64, error) {
	var n int64
	for _, p := range plans {
		v, err := s.events.Version(context.Background(), p.Stream)
		if err != nil {
			return 0, err
		}
		n += v
	}
	return n, nil
}

// checkNoDeadLetters checks that neither a command nor an event was dead-lettered.
func (s *stack) checkNoDeadLetters(t *testing.T) {
	t.Helper()
	if dead := s.drainQueue(t, s.ep.CommandsDLQURL, 0, 3*time.Second); len(dead) > 0 {
		t.Errorf("%d commands dead-lettered, want none: first %q", len(dead), aws.ToString(dead[0].Body))
	}
	if dead := s.drainQueue(t, s.ep.ProjectorDLQURL, 0, 3*time.Second); len(dead) > 0 {
		t.Errorf("%d events dead-lettered, want none: first %q", len(dead), aws.ToString(dead[0].Body))
	}
}

// checkExactlyOnce checks that every planned command took effect once, in order: one
// accepted outcome per id and no other outcome, one event per command at versions 1…n of its
// stream in the order sent, and no event anywhere else.
func (s *stack) checkExactlyOnce(t *testing.T, plans []streamPlan) {
	t.Helper()
	ctx := context.Background()
	wantIDs := map[string]bool{}
	for _, p := range plans {
		for _, pc := range p.Commands {
			wantIDs[pc.ID] = true
		}
	}

	// The events table, read whole: every stream's versions and the commands that wrote them.
	byStream := map[string][]eventstore.Record{}
	err := scanTable(ctx, s.ddb, s.names.EventsTable, func(item map[string]types.AttributeValue) {
		stream := attrString(item, "stream")
		if strings.HasPrefix(stream, eventstore.ReservedStreamPrefix) {
			return
		}
		byStream[stream] = append(byStream[stream], eventstore.Record{
			Stream: stream, Version: attrInt(item, "version"), CommandID: attrString(item, "commandId"), Type: attrString(item, "type"),
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStreams := map[string]bool{}
	for _, p := range plans {
		wantStreams[p.Stream] = true
		recs := byStream[p.Stream]
		slices.SortFunc(recs, func(a, b eventstore.Record) int { return int(a.Version - b.Version) })
		var got []string
		for i, r := range recs {
			if r.Version != int64(i+1) {
				t.Errorf("%s: position %d holds version %d: versions are not contiguous", p.Stream, i+1, r.Version)
				break
			}
			got = append(got, r.CommandID)
		}
		var want []string
		for _, pc := range p.Commands {
			want = append(want, pc.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %d events by commands %s; want %d, one per command in the order sent: %s",
				p.Stream, len(got), abbreviate(got), len(want), abbreviate(want))
		}
	}
	for stream, recs := range byStream {
		if !wantStreams[stream] {
			t.Errorf("unexpected stream %s with %d events", stream, len(recs))
		}
	}

	// The commands table, read whole: one accepted outcome per command and nothing else.
	outcomes := map[string]string{}
	err = scanTable(ctx, s.ddb, s.names.CommandsTable, func(item map[string]types.AttributeValue) {
		id := attrString(item, "commandId")
		outcomes[id] = attrString(item, "status") + " " + attrString(item, "reason")
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for id := range wantIDs {
		if o, ok := outcomes[id]; !ok || strings.TrimSpace(o) != eventstore.OutcomeAccepted {
			if bad++; bad <= 5 {
				t.Errorf("outcome of %s = %q, want accepted", id, o)
			}
		}
	}
	for id, o := range outcomes {
		if !wantIDs[id] {
			if bad++; bad <= 10 {
				t.Errorf("unexpected outcome %s: %s", id, o)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d commands without exactly one accepted outcome, or outcomes of unknown ids", bad, len(wantIDs))
	}
	// The outcome as the client sees it names the event the command wrote.
	var mu sync.Mutex
	checked := 0
	_ = forEach(8, plans, func(p streamPlan) error {
		for i, pc := range p.Commands {
			o, err := s.events.Outcome(ctx, pc.ID)
			mu.Lock()
			if err != nil || o.Stream != p.Stream || o.FirstVersion != int64(i+1) || o.LastVersion != int64(i+1) {
				t.Errorf("outcome of %s = %+v, %v; want accepted on %s at version %d", pc.ID, o, err, p.Stream, i+1)
			}
			checked++
			mu.Unlock()
		}
		return nil
	})
	t.Logf("exactly once: %d commands, %d streams, %d outcomes checked", len(wantIDs), len(plans), checked)
}

// checkReplayMatches compares the live read models with what a full replay of the events
// table builds in a fresh store: every table, every item, every stream position.
func (s *stack) checkReplayMatches(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	live, err := projections.Dump(ctx, s.reads)
	if err != nil {
		t.Fatalf("dump the live read models: %v", err)
	}
	fresh := memory.New()
	r, err := projections.NewReplayer(projections.ReplayerConfig{Store: fresh, Events: s.events, Scanner: s.events})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Replay(ctx, projections.ReplayScope{})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	rebuilt, err := projections.Dump(ctx, fresh)
	if err != nil {
		t.Fatalf("dump the replayed read models: %v", err)
	}
	if diff := projectionstest.Diff(live, rebuilt); diff != "" {
		t.Errorf("live read models (got) differ from the replay (want):\n%s", diff)
		return
	}
	items := 0
	for _, table := range rebuilt {
		items += len(table)
	}
	t.Logf("read models equal a full replay: %d events replayed, %d items in %d tables", res.Events, items, len(rebuilt))
}

func abbreviate(ids []string) string {
	if len(ids) <= 6 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v … %v", ids[:3], ids[len(ids)-3:])
}

// scanTable calls fn with every item of a table.
func scanTable(ctx context.Context, ddb *dynamodb.Client, table string, fn func(map[string]types.AttributeValue)) error {
	p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan %s: %w", table, err)
		}
		for _, item := range page.Items {
			fn(item)
		}
	}
	return nil
}

func attrString(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func attrInt(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		var n int64
		_, _ = fmt.Sscan(v.Value, &n)
		return n
	}
	return 0
}
