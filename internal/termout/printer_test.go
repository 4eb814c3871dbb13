package termout

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"buildledger/projections"
)

// now is the fixed clock of the renderer tests: times print relative to it, in UTC.
var now = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

func tablePrinter(color bool) Printer {
	return Printer{Format: FormatTable, Color: color, Now: func() time.Time { return now }, Location: time.UTC}
}

func render(t *testing.T, p Printer, v any) string {
	t.Helper()
	var out bytes.Buffer
	if err := p.Print(&out, v); err != nil {
		t.Fatalf("Print(%T): %v", v, err)
	}
	return out.String()
}

// lines joins the lines of an expected output, each ended by a newline.
func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestPrint_GivenATable_ThenRowsColumnsTimesAndDurationsAsPeopleReadThem(t *testing.T) {
	ended := ago(time.Minute).UnixMilli()
	since := ago(3 * time.Minute)
	expires := now.Add(5 * time.Minute)
	tests := []struct {
		name  string
		value any
		want  string
	}{
		{
			name: "given lock rows, one active with a lease and one forced yesterday, when printed, then a row each with local times, the lease as a duration and the forced row's extra columns in struct order",
			value: []projections.Lock{
				{ID: "0b7c2f0e-1d7c-4c47-9d8a-2f1f3b0c9e11", User: "alice", Env: "production", CreatedAt: ago(3 * time.Minute).UnixMilli(),
					UpdatedAt: ago(3 * time.Minute).UnixMilli(), Active: true, Meta: "https://ci/1", FencingToken: 7, LeaseMs: 300000,
					ExpiresAt: expires.UnixMilli(), StreamVersion: 9},
				{ID: "5e0f9b7a-3f43-4e0e-8d0f-6b5c8d2f1a22", User: "bob", Env: "production", CreatedAt: ago(26 * time.Hour).UnixMilli(),
					UpdatedAt: ago(25 * time.Hour).UnixMilli(), FencingToken: 6, Ended: projections.LockEndedForced, ForcedBy: "ops",
					Reason: "stuck deploy", StreamVersion: 5},
			},
			want: lines(
				"ID                                    USER   ENV         CREATED AT                  UPDATED AT                  ACTIVE  UBERLOCK  META          FENCING TOKEN  LEASE  EXPIRES AT        ENDED   FORCED BY  REASON",
				"0b7c2f0e-1d7c-4c47-9d8a-2f1f3b0c9e11  alice  production  09:57:00 (3m ago)           09:57:00 (3m ago)           true    false     https://ci/1  7              5m     10:05:00 (in 5m)",
				"5e0f9b7a-3f43-4e0e-8d0f-6b5c8d2f1a22  bob    production  2026-12-06 08:00 (26h ago)  2026-12-06 09:00 (25h ago)  false   false                   6                                       forced  ops        stuck deploy",
			),
		},
		{
			name: "given job runs, one running and one ended as skipped, when printed, then the running one's end is a dash",
			value: []projections.Job{
				{ID: "r2", User: "alice", Jobname: "deploy-prod", Version: "abc123", Started: ago(2 * time.Minute).UnixMilli(), StreamVersion: 3},
				{ID: "r1", User: "bob", Jobname: "deploy-prod", Version: "abc123", Started: ago(10 * time.Minute).UnixMilli(), Ended: &ended,
					Skipped: true, EndedBy: "carol@example.com", StreamVersion: 2},
			},
			want: lines(
				"ID  USER   JOBNAME      VERSION  STARTED             ENDED              SKIPPED  ENDED BY",
				"r2  alice  deploy-prod  abc123   09:58:00 (2m ago)   -                  false",
				"r1  bob    deploy-prod  abc123   09:50:00 (10m ago)  09:59:00 (1m ago)  true     carol@example.com",
			),
		},
		{
			name: "given an env's lock queue, when printed, then a key/value block with the holder nested and the waiters as a table",
			value: projections.LockQueue{Env: "production",
				Holder:  projections.LockHolding{Env: "production", Held: true, User: "alice", Token: 7, Since: &since, ExpiresAt: &expires},
				Waiting: []projections.QueuedUser{{Position: 1, User: "bob", Since: ago(30 * time.Second)}, {Position: 2, User: "carol", Since: ago(5 * time.Second)}}},
			want: lines(
				"env      production",
				"holder",
				"  env        production",
				"  held       true",
				"  user       alice",
				"  token      7",
				"  since      09:57:00 (3m ago)",
				"  expiresAt  10:05:00 (in 5m)",
				"waiting",
				"  POSITION  USER   SINCE",
				"  1         bob    09:59:30 (30s ago)",
				"  2         carol  09:59:55 (5s ago)",
			),
		},
		{
			name:  "given a free env's queue, when printed, then nobody waits",
			value: projections.LockQueue{Env: "staging", Holder: projections.LockHolding{Env: "staging"}, Waiting: []projections.QueuedUser{}},
			want: lines(
				"env      staging",
				"holder",
				"  env   staging",
				"  held  false",
				"waiting  (none)",
			),
		},
		{
			name: "given a build, when printed, then its browser columns keep their names",
			value: projections.Build{RepoID: "api/foo", BuildID: 1, Tag: "master", Pending: 1,
				Browsers: []projections.BrowserStatus{{Name: "BrowserA", Status: "finished"}, {Name: "BrowserB", Status: "started", Pending: true}}},
			want: lines(
				"tag               master",
				"repoID            api/foo",
				"buildID           1",
				"pending           1",
				"BrowserA          finished",
				"BrowserA-pending  false",
				"BrowserB          started",
				"BrowserB-pending  true",
			),
		},
		{
			name:  "given no rows, when printed, then it says so",
			value: []projections.Job{},
			want:  "No results.\n",
		},
		{
			name:  "given a list of strings, when printed, then a line each",
			value: []string{"a", "b"},
			want:  "a\nb\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, tablePrinter(false), tt.value); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestPrint_GivenColour_ThenStatusesAndBooleansAreColouredAndHeadersBold(t *testing.T) {
	tests := []struct {
		name  string
		color bool
		value any
		want  string
	}{
		{
			name:  "given colour, when a status errored, then error is red, complete faint and the header bold",
			color: true,
			value: []projections.Status{{Pkg: "app", Env: "prod", Version: "1.0.0", Total: 50, Error: true}},
			want: lines(
				"\x1b[1mPKG\x1b[0m  \x1b[1mENV\x1b[0m   \x1b[1mVERSION\x1b[0m  \x1b[1mPREVIOUS VERSION\x1b[0m  \x1b[1mTOTAL\x1b[0m  \x1b[1mERROR\x1b[0m  \x1b[1mCOMPLETE\x1b[0m  \x1b[1mCREATED AT\x1b[0m  \x1b[1mUPDATED AT\x1b[0m",
				"app  prod  1.0.0                      50     \x1b[31mtrue\x1b[0m   \x1b[2mfalse\x1b[0m     0           0",
			),
		},
		{
			name:  "given colour, when a browser is queued and a lock active, then queued is yellow and the active lock green",
			color: true,
			value: map[string]any{"BrowserA": "queued", "active": true},
			want:  "BrowserA  \x1b[33mqueued\x1b[0m\nactive    \x1b[32mtrue\x1b[0m\n",
		},
		{
			name:  "given no colour, when the same, then plain text",
			color: false,
			value: map[string]any{"BrowserA": "queued", "active": true},
			want:  "BrowserA  queued\nactive    true\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(t, tablePrinter(tt.color), tt.value); got != tt.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestPrint_GivenJSON_ThenTheIndentedJSONScriptsRead(t *testing.T) {
	rows := []projections.Lock{{ID: "l1", User: "alice", Env: "production", CreatedAt: 1765101600000, UpdatedAt: 1765101600000,
		Active: true, Meta: "<https://ci/1?a=1&b=2>", StreamVersion: 1}}
	got := render(t, Printer{Format: FormatJSON}, rows)
	// json.MarshalIndent escapes <, > and &; the command line never did.
	want, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = bytes.ReplaceAll(want, []byte(`\u003c`), []byte("<"))
	want = bytes.ReplaceAll(want, []byte(`\u003e`), []byte(">"))
	want = bytes.ReplaceAll(want, []byte(`\u0026`), []byte("&"))
	if got != string(want)+"\n" {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// durationCase is a duration and the text a column prints for it.
type durationCase struct {
	name  string
	given time.Duration
	want  string
}

// checkDurationText checks that text, the function called name, prints each given
// duration as wanted.
func checkDurationText(t *testing.T, name string, text func(time.Duration) string, tests []durationCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := text(tt.given); got != tt.want {
				t.Errorf("%s(%s) = %q, want %q", name, tt.given, got, tt.want)
			}
		})
	}
}

func TestRelative_GivenTheTimeSinceAnInstant_ThenTheLargestWholeUnit(t *testing.T) {
	checkDurationText(t, "relative", relative, []durationCase{
		{"given under a second either way, then now", 400 * time.Millisecond, "now"},
		{"given 59 seconds ago, then seconds", 59 * time.Second, "59s ago"},
		{"given 3 minutes 59 seconds ago, then whole minutes", 3*time.Minute + 59*time.Second, "3m ago"},
		{"given 47 hours ago, then hours", 47 * time.Hour, "47h ago"},
		{"given 3 days ago, then days", 72 * time.Hour, "3d ago"},
		{"given 5 minutes ahead, then in 5m", -5 * time.Minute, "in 5m"},
		{"given 3 years ago, then years", 3 * 366 * 24 * time.Hour, "3y ago"},
	})
}

func TestPrint_GivenATableWiderThanTheTerminal_ThenItsWidestTextColumnsWrapAndTimesKeepTheirWidth(t *testing.T) {
	history := []projections.LockHistoryEntry{
		{Version: 1, At: ago(time.Minute), Event: "granted", User: "bob", Token: 1, Meta: "https://ci.example.com/run/41"},
		{Version: 4, At: ago(time.Second), Event: "freeze-added", By: "ops", Reason: "weekend", Freeze: 1, Detail: `"0 18 * * FRI" for 64h, Europe/Berlin`},
	}
	tests := []struct {
		name  string
		width int
		want  string
	}{
		{
			name:  "given 120 columns, when the history is 145 wide, then meta and detail wrap within narrower columns",
			width: 120,
			want: lines(
				"VERSION  AT                 EVENT         USER  TOKEN  META                  BY   REASON   FREEZE  DETAIL",
				"1        09:59:00 (1m ago)  granted       bob   1      https://ci.example.c",
				"                                                       om/run/41",
				"4        09:59:59 (1s ago)  freeze-added                                     ops  weekend  1       \"0 18 * * FRI\" for",
				"                                                                                                   64h, Europe/Berlin",
			),
		},
		{
			name:  "given no width, when the same, then one line a row",
			width: 0,
			want: lines(
				"VERSION  AT                 EVENT         USER  TOKEN  META                           BY   REASON   FREEZE  DETAIL",
				"1        09:59:00 (1m ago)  granted       bob   1      https://ci.example.com/run/41",
				"4        09:59:59 (1s ago)  freeze-added                                              ops  weekend  1       \"0 18 * * FRI\" for 64h, Europe/Berlin",
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tablePrinter(false)
			p.Width = tt.width
			if got := render(t, p, history); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestDuration_GivenMilliseconds_ThenTheShortestGoDuration(t *testing.T) {
	checkDurationText(t, "duration", duration, []durationCase{
		{"given 30 minutes, then 30m", 30 * time.Minute, "30m"},
		{"given 64 hours, then 64h", 64 * time.Hour, "64h"},
		{"given 1 hour 30, then 1h30m", 90 * time.Minute, "1h30m"},
		{"given 1 minute 5 seconds, then 1m5s", 65 * time.Second, "1m5s"},
		{"given 123 milliseconds, then 123ms", 123 * time.Millisecond, "123ms"},
		{"given nothing, then 0s", 0, "0s"},
	})
}
