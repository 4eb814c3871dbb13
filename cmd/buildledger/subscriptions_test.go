package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"buildledger/internal/webhooks"
	"buildledger/internal/webhooks/webhookstest"
)

func TestSubscriptions_GivenATable_WhenAddedListedPausedReplayedResumedRemoved_ThenEachShowsInTheTable(t *testing.T) {
	_, prefix := webhookstest.Table(t, "subs")
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) (int, string) {
		return runCaptured(t, append([]string{"--prefix", prefix, "-o", "json", "subscriptions"}, args...)...)
	}
	list := func() []subscriptionRow {
		code, out := cli("list")
		var rows []subscriptionRow
		if code != exitOK || json.Unmarshal([]byte(out), &rows) != nil {
			t.Fatalf("list: exit %d, %s", code, out)
		}
		return rows
	}

	if code, out := cli("add", "--name", "ci", "--url", "http://127.0.0.1:9/hook", "--kinds", "lock,repo", "--streams", "lock:*", "--secret-file", secretFile); code != exitOK || strings.Contains(out, "s3cret") {
		t.Fatalf("add: exit %d, %s (the secret must not be printed)", code, out)
	}
	if code, out := cli("add", "--name", "ci", "--url", "http://127.0.0.1:9/hook", "--secret-file", secretFile); code != exitRejected {
		t.Errorf("add of a taken name: exit %d, %s; want 1", code, out)
	}
	if code, out := cli("add", "--name", "x", "--url", "ftp://nope", "--secret-file", secretFile); code != exitUsage {
		t.Errorf("add with a bad URL: exit %d, %s; want 2", code, out)
	}
	rows := list()
	if len(rows) != 1 || rows[0].State != "active" || rows[0].Kinds != "lock,repo" || rows[0].Streams != "lock:*" || rows[0].Checkpoint == "" {
		t.Fatalf("list after add: %+v", rows)
	}
	if code, out := cli("pause", "--name", "ci"); code != exitOK {
		t.Fatalf("pause: exit %d, %s", code, out)
	}
	if rows = list(); rows[0].State != "paused" {
		t.Errorf("after pause: %+v", rows[0])
	}
	if code, out := cli("replay", "--name", "ci", "--from", "beginning"); code != exitOK {
		t.Fatalf("replay: exit %d, %s", code, out)
	}
	if rows = list(); rows[0].Checkpoint != "" {
		t.Errorf("after replay from the beginning: %+v", rows[0])
	}
	if code, out := cli("replay", "--name", "ci", "--from", "yesterday"); code != exitUsage {
		t.Errorf("replay --from yesterday: exit %d, %s; want 2", code, out)
	}
	if code, out := cli("resume", "--name", "ci"); code != exitOK {
		t.Fatalf("resume: exit %d, %s", code, out)
	}
	if rows = list(); rows[0].State != "active" {
		t.Errorf("after resume: %+v", rows[0])
	}
	if code, out := cli("remove", "--name", "ci"); code != exitOK {
		t.Fatalf("remove: exit %d, %s", code, out)
	}
	if code, out := cli("remove", "--name", "ci"); code != exitRejected {
		t.Errorf("remove again: exit %d, %s; want 1", code, out)
	}
	if rows = list(); len(rows) != 0 {
		t.Errorf("after remove: %+v", rows)
	}
}

func TestParseReplayFrom_GivenAKeyATimeOrBeginning_ThenTheCheckpointThatReplaysFromThere(t *testing.T) {
	key := "20261207T101010123000000000"
	at := time.Date(2026, 12, 7, 10, 10, 10, 123e6, time.UTC)
	before, err := webhooks.CheckpointBefore(key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, from, want string }{
		{"given beginning, then the start of the feed", "beginning", ""},
		{"given an event key, then just before that event", key, before},
		{"given an RFC 3339 time, then just before that time", at.Format(time.RFC3339Nano), webhooks.CheckpointAt(at)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := parseReplayFrom(tt.from); err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := parseReplayFrom("yesterday"); err == nil || !strings.Contains(err.Error(), "neither now, beginning, an event key nor an RFC 3339 time") {
		t.Errorf("yesterday: %v", err)
	}
}
