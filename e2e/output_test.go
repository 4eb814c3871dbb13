package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"buildledger/eventstore"
	"buildledger/handlers"
	"buildledger/internal/app"
	"buildledger/internal/awstest"
	"buildledger/internal/termout"
	"buildledger/projections"
)

// legacyJSON is how every reading command printed its answer before tables existed;
// through a pipe they must print exactly these bytes still.
func legacyJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// readingCommand is a get or list command line and how to read its answer in process,
// with the queries the command makes.
type readingCommand struct {
	args []string
	// query returns what the command answers.
	query func(ctx context.Context, a *app.App) (any, error)
	// table is the start of the first line under a terminal: a table's header or a
	// block's first key.
	table string
}

func TestOutput_GivenEachReadingCommand_WhenStdoutIsAPipe_ThenTheJSONOfBefore_AndWhenATerminal_ThenATable(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-output")
	in.startWorker(t)
	repo := []string{"--user", "api", "--repo", "foo"}
	pkg := []string{"--pkg", "@scope/app", "--env", "prod", "--version", "1.0.0"}
	in.ok(t, append(append([]string{"builds", "create"}, repo...), "--tag", "master", "--browsers", "BrowserA,BrowserB")...)
	in.ok(t, append(append([]string{"builds", "update"}, repo...), "--build", "1", "--browser", "BrowserA", "--status", "finished", "--finished")...)
	in.ok(t, append(append([]string{"status", "start"}, pkg...), "--locales", "en,fr")...)
	in.ok(t, append(append([]string{"status", "event"}, pkg...), "--locale", "en", "--message", "building <main> & assets")...)
	in.ok(t, append(append([]string{"status", "event"}, pkg...), "--locale", "fr", "--message", "build failed", "--error")...)
	in.ok(t, append(append([]string{"status", "complete"}, pkg...), "--locale", "en")...)
	in.ok(t, "locks", "lock", "--env", "production", "--user", "bob", "--meta", "https://ci.example.com/run?id=1&try=2")
	in.ok(t, "locks", "release", "--env", "production", "--user", "bob")
	in.ok(t, "locks", "lock", "--env", "production", "--user", "alice", "--lease", "30m")
	// A window that opens once a year, so that what freezes list says does not change
	// between the command and the query.
	in.ok(t, "freezes", "add", "--env", "production", "--user", "ops", "--cron", "0 3 1 1 *", "--duration", "1h", "--reason", "new year", "--tz", "UTC")
	in.ok(t, "jobs", "start", "--jobname", "deploy-prod", "--user", "alice", "--gitversion", "abc123")

	commands := []readingCommand{
		{[]string{"repos", "get", "--user", "api", "--repo", "foo"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.Repo(ctx, "api", "foo")
		}, "user "},
		{[]string{"builds", "get", "--user", "api", "--repo", "foo", "--build", "1"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.Build(ctx, "api", "foo", 1)
		}, "tag "},
		{append([]string{"status", "get"}, pkg...), func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.Status(ctx, "@scope/app", "prod", "1.0.0")
		}, "pkg "},
		{[]string{"status", "head", "--pkg", "@scope/app", "--env", "prod"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.StatusHead(ctx, "@scope/app", "prod")
		}, "pkg "},
		{append([]string{"status", "events"}, pkg...), func(ctx context.Context, a *app.App) (any, error) {
			page, err := a.Queries.StatusEvents(ctx, "@scope/app", "prod", "1.0.0", 0, 500)
			return append([]projections.StatusEvent{}, page.Events...), err
		}, "PKG "},
		{[]string{"locks", "list", "--env", "production"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.Locks(ctx, "production")
		}, "ID "},
		{[]string{"locks", "queue", "--env", "production"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.LockLog.Queue(ctx, "production", time.Now())
		}, "env "},
		{[]string{"locks", "history", "--env", "production"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.LockLog.History(ctx, "production", time.Time{})
		}, "VERSION "},
		{[]string{"freezes", "list", "--env", "production"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.LockLog.Freezes(ctx, "production", time.Now())
		}, "ID "},
		{[]string{"jobs", "get", "--jobname", "deploy-prod", "--gitversion", "abc123"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.Jobs(ctx, "deploy-prod", "abc123")
		}, "ID "},
		{[]string{"jobs", "active", "--jobname", "deploy-prod", "--ttl", "1h"}, func(ctx context.Context, a *app.App) (any, error) {
			return a.Queries.ActiveJobs(ctx, "deploy-prod", time.Hour, time.Now())
		}, "ID "},
		{[]string{"events", "list", "--stream", "lock:production"}, func(ctx context.Context, a *app.App) (any, error) {
			recs, err := a.Events.Load(ctx, "lock:production", 1)
			return append([]eventstore.Record{}, recs...), err
		}, "STREAM "},
	}
	a := in.app(t)
	for _, c := range commands {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			t.Parallel()
			v, err := c.query(context.Background(), a)
			if err != nil {
				t.Fatalf("query: %v", err)
			}

			// Through a pipe: today's JSON, byte for byte.
			if got, want := in.ok(t, c.args...), legacyJSON(t, v); got != want {
				t.Errorf("through a pipe, buildledger %s printed:\n%s\nwant the JSON of before:\n%s", strings.Join(c.args, " "), got, want)
			}

			// Under a pseudo-terminal: the table (or block) of the same answer, coloured.
			colored := in.okTTY(t, nil, c.args...)
			plain := ansi.ReplaceAllString(colored, "")
			if !strings.HasPrefix(plain, c.table) {
				t.Errorf("on a terminal, buildledger %s printed no table starting %q:\n%s", strings.Join(c.args, " "), c.table, plain)
			}
			if !strings.Contains(colored, "\x1b[") {
				t.Errorf("on a terminal, buildledger %s printed no colour:\n%q", strings.Join(c.args, " "), colored)
			}
			var table bytes.Buffer
			if err := (termout.Printer{Format: termout.FormatTable}).Print(&table, v); err != nil {
				t.Fatal(err)
			}
			if sameInstants(plain) != sameInstants(table.String()) {
				t.Errorf("on a terminal, buildledger %s printed:\n%s\nwant the table of the same answer:\n%s", strings.Join(c.args, " "), plain, table.String())
			}

			// NO_COLOR: the same table without colour; -o json: JSON even on a terminal.
			if got := in.okTTY(t, []string{"NO_COLOR=1"}, c.args...); strings.Contains(got, "\x1b[") || sameInstants(got) != sameInstants(plain) {
				t.Errorf("with NO_COLOR, buildledger %s printed:\n%q\nwant the plain table:\n%s", strings.Join(c.args, " "), got, plain)
			}
			var decoded any
			if got := in.okTTY(t, nil, append(c.args, "-o", "json")...); json.Unmarshal([]byte(got), &decoded) != nil {
				t.Errorf("with -o json on a terminal, buildledger %s printed no JSON:\n%s", strings.Join(c.args, " "), got)
			}
		})
	}
}

// ansi matches the colour codes of a table.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// relativeTime matches what a table adds to a time, which moves on between two prints, and
// the padding that follows its width.
var relativeTime = regexp.MustCompile(`\((now|\d+[smhdy] ago|in \d+[smhdy])\)|[ ]+`)

// sameInstants is a table with how long ago each time was, and column padding, left out.
func sameInstants(s string) string {
	return relativeTime.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "(") {
			return "(…)"
		}
		return " "
	})
}

// app is the installation's composition root, for reading what the commands read.
func (in *installation) app(t *testing.T) *app.App {
	t.Helper()
	names, err := handlers.NewNames(in.prefix)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(app.Config{AWS: awstest.Config(t), Names: names})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// messaging returns the installation's composition root and the endpoints of its queues and
// topic.
func (in *installation) messaging(t *testing.T) (*app.App, handlers.Endpoints) {
	t.Helper()
	a := in.app(t)
	ep, err := a.ResolveMessaging(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a, ep
}

// okTTY runs a command line that must succeed with its standard output on a pseudo-terminal
// wide enough that no table needs fitting in it (termout's tests cover that) and returns what it printed there, with the terminal's
// CR LF line ends made LF. env is added to the command's environment; NO_COLOR is unset
// unless env sets it.
func (in *installation) okTTY(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 400}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append(in.environ(), "NO_COLOR="), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = tty, &stderr
	if err := cmd.Start(); err != nil {
		tty.Close()
		t.Fatalf("start buildledger %s: %v", strings.Join(args, " "), err)
	}
	tty.Close() // the command holds the terminal now; reading ends when it exits
	var out bytes.Buffer
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, ptmx)
		read <- err
	}()
	waitErr := cmd.Wait()
	if err := <-read; err != nil && !errors.Is(err, os.ErrClosed) && !isEIO(err) {
		t.Fatalf("read the pseudo-terminal: %v", err)
	}
	if waitErr != nil {
		t.Fatalf("buildledger %s on a terminal: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), waitErr, out.String(), stderr.String())
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n")
}

// isEIO reports whether err is the EIO that reading a pseudo-terminal's master gets on Linux
// once the last process holding its terminal has exited.
func isEIO(err error) bool { return errors.Is(err, syscall.EIO) }
