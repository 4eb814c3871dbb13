package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runCaptured runs a command line and returns its exit code and what it printed.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	code := exitOK
	if err := root.ExecuteContext(context.Background()); err != nil {
		out.WriteString(err.Error())
		code = exitCode(err)
	}
	return code, out.String()
}

func TestRun_GivenBadUsage_ThenExit2WithAMessage(t *testing.T) {
	tests := []struct {
		args []string
		want string
		env  map[string]string
	}{
		{[]string{"no-such-command"}, "unknown command", nil},
		{[]string{"locks", "lock", "--env", "production"}, `"user" not set`, nil},
		{[]string{"builds", "update", "--user", "api", "--repo", "foo", "--build", "x", "--browser", "A", "--status", "s"}, "invalid argument", nil},
		{[]string{"--prefix", "bad prefix", "repos", "get", "--user", "a", "--repo", "b"}, "only letters", nil},
		{[]string{"--log-format", "xml", "init"}, "want auto, json or pretty", nil},
		{[]string{"--output", "yaml", "repos", "get", "--user", "a", "--repo", "b"}, "want auto, json or table", nil},
		{[]string{"replay", "--projection", "nope"}, "want one of", nil},
		{[]string{"replay", "--projection", "builds", "--stream", "repo:a/b"}, "not both", nil},
		{[]string{"jobs", "active", "--jobname", "j", "--ttl", "-1h"}, "--ttl must be positive", nil},
		{[]string{"status", "start", "--pkg", "p", "--env", "e", "--version", "1"}, "--locales or --locale-count", nil},
		{[]string{"locks", "run", "--env", "e", "--user", "u"}, "give the command to run after --", nil},
		{[]string{"locks", "run", "--env", "e", "--user", "u", "--lease", "", "--", "true"}, "--lease is required", nil},
		{[]string{"locks", "run", "--env", "e", "--user", "u", "--lease", "1m", "--heartbeat", "2m", "--", "true"}, "--heartbeat", nil},
		{[]string{"locks", "release", "--env", "e", "--user", "u", "--force"}, "reason", nil},
		{[]string{"locks", "lock", "--env", "e", "--user", "u", "--break-glass"}, "reason", nil},
		{[]string{"locks", "lock", "--env", "e", "--user", "u", "--lease", "soon"}, "lease", nil},
		{[]string{"locks", "check", "--env", "e"}, `"token" not set`, nil},
		{[]string{"locks", "list", "--env", "e", "--at", "yesterday"}, "is not a time", nil},
		{[]string{"freezes", "add", "--env", "e", "--user", "u", "--cron", "0 18 * * FRI", "--duration", "64h"}, `"reason" not set`, nil},
		{[]string{"--time-shards", "99", "init"}, "--time-shards 99", nil},
		{[]string{"repos", "get", "--user", "a", "--repo", "b"}, "BUILDLEDGER_PARALLELISM", map[string]string{"BUILDLEDGER_PARALLELISM": "many"}},
		{[]string{"repos", "get", "--user", "a", "--repo", "b"}, "BUILDLEDGER_INLINE_READ_SIDE", map[string]string{"BUILDLEDGER_INLINE_READ_SIDE": "maybe"}},
		{[]string{"repos", "get", "--user", "a", "--repo", "b"}, "BUILDLEDGER_DEFAULT_LEASE", map[string]string{"BUILDLEDGER_DEFAULT_LEASE": "soon"}},
		{[]string{"repos", "get", "--user", "a", "--repo", "b"}, "BUILDLEDGER_CLOCK_TOLERANCE", map[string]string{"BUILDLEDGER_CLOCK_TOLERANCE": "1 second"}},
		{[]string{"serve"}, "BUILDLEDGER_API_AUTH", map[string]string{"BUILDLEDGER_API_AUTH": "ture"}},
		{[]string{"serve"}, "BUILDLEDGER_METRICS_AUTH", map[string]string{"BUILDLEDGER_METRICS_AUTH": "enabled"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// An unreachable endpoint makes sure a usage check never needs AWS.
			t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, out := runCaptured(t, tt.args...)
			if code != exitUsage || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, output %q; want exit %d mentioning %q", code, out, exitUsage, tt.want)
			}
		})
	}
}

func TestRun_GivenHelpOnEveryLevel_ThenExit0WithUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"locks", "--help"}, {"locks", "lock", "--help"}, {"jobs", "end", "--help"},
		{"builds", "create", "--help"}, {"status", "events", "--help"}, {"replay", "--help"}, {"serve", "--help"},
		{"locks", "run", "--help"}, {"locks", "renew", "--help"}, {"locks", "check", "--help"}, {"locks", "queue", "--help"},
		{"locks", "history", "--help"}, {"freezes", "--help"}, {"freezes", "add", "--help"}, {"freezes", "remove", "--help"},
		{"freezes", "list", "--help"}, {"version", "--help"},
	} {
		code, out := runCaptured(t, args...)
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
}

func TestHelp_GivenTheRootCommand_ThenCommandsAreListedInTheirGroupsInOrderAndNoBenchmark(t *testing.T) {
	code, out := runCaptured(t, "--help")
	if code != exitOK {
		t.Fatalf("exit %d, output %q", code, out)
	}
	at := 0
	for _, want := range []string{
		"Running the service:", "\n  init ", "\n  worker ", "\n  serve ", "\n  run ", "\n  replay ",
		"Changing and reading the state:", "\n  builds ", "\n  repos ", "\n  status ", "\n  locks ", "\n  freezes ", "\n  jobs ", "\n  events ",
		"About this binary:", "\n  version ",
	} {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("%q missing after offset %d, or out of order, in:\n%s", want, at, out)
		}
		at += i + len(want)
	}
	if strings.Contains(out, "bench") {
		t.Errorf("--help lists a benchmark:\n%s", out)
	}
}
