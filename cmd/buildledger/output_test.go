package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/spf13/cobra"

	"buildledger/internal/termout"
)

// stdouts are the standard outputs a command meets: a terminal, a pipe and a buffer.
func stdouts(t *testing.T) map[string]io.Writer {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close(); r.Close(); w.Close() })
	return map[string]io.Writer{"terminal": tty, "pipe": w, "buffer": &bytes.Buffer{}}
}

func TestPrinter_GivenOutputStdoutAndNoColor_ThenTheFormatAndColourCommandsPrintIn(t *testing.T) {
	tests := []struct {
		name      string
		output    string
		stdout    string
		noColor   string
		wantFmt   termout.Format
		wantColor bool
	}{
		{"given auto, when stdout is a terminal, then a coloured table", "auto", "terminal", "", termout.FormatTable, true},
		{"given auto, when stdout is a terminal and NO_COLOR is set, then a plain table", "auto", "terminal", "1", termout.FormatTable, false},
		{"given auto, when stdout is a pipe, then JSON", "auto", "pipe", "", termout.FormatJSON, false},
		{"given auto, when stdout is a buffer, then JSON", "auto", "buffer", "", termout.FormatJSON, false},
		{"given -o json, when stdout is a terminal, then JSON", "json", "terminal", "", termout.FormatJSON, false},
		{"given -o table, when stdout is a pipe, then a plain table", "table", "pipe", "", termout.FormatTable, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NO_COLOR", tt.noColor)
			cmd := &cobra.Command{}
			cmd.SetOut(stdouts(t)[tt.stdout])
			s := &settings{Output: tt.output}
			p := s.printer(cmd)
			if p.Format != tt.wantFmt || p.Color != tt.wantColor {
				t.Errorf("printer: format %q colour %v; want %q colour %v", p.Format, p.Color, tt.wantFmt, tt.wantColor)
			}
		})
	}
}

func TestLogStyle_GivenLogFormatTerminalAndNoColor_ThenPrettyAndColourOnlyWhereWanted(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		terminal   bool
		noColor    string
		wantPretty bool
		wantColor  bool
	}{
		{"given auto, when stderr is a terminal, then pretty and coloured", logAuto, true, "", true, true},
		{"given auto, when stderr is a terminal and NO_COLOR is set, then pretty and plain", logAuto, true, "1", true, false},
		{"given auto, when stderr is a file, then JSON", logAuto, false, "", false, false},
		{"given json, when stderr is a terminal, then JSON", logJSON, true, "", false, false},
		{"given pretty, when stderr is a file, then pretty and plain", logPretty, false, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pretty, color := logStyle(tt.format, tt.terminal, tt.noColor)
			if pretty != tt.wantPretty || color != tt.wantColor {
				t.Errorf("logStyle(%q, %v, %q) = %v, %v; want %v, %v", tt.format, tt.terminal, tt.noColor, pretty, color, tt.wantPretty, tt.wantColor)
			}
		})
	}
}

func TestLogger_GivenAutoIntoAFile_ThenJSONLines(t *testing.T) {
	var out bytes.Buffer
	log := settings{LogFormat: logAuto, LogLevel: "info"}.logger(&out)
	log.Info().Str("addr", "127.0.0.1:1").Msg("buildledger started")
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line["message"] != "buildledger started" {
		t.Errorf("want a JSON line, got %q (%v)", out.String(), err)
	}
}

func TestVersionOf_GivenBuildInformation_ThenVersionCommitAndGo(t *testing.T) {
	commitTime := time.Date(2026, 12, 7, 6, 18, 25, 0, time.UTC)
	modified := true
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name  string
		given *debug.BuildInfo
		want  buildVersion
	}{
		{
			name:  "given no build information, then devel and the running Go",
			given: nil,
			want:  buildVersion{Version: "(devel)", Go: runtime.Version(), Platform: platform},
		},
		{
			name: "given a stamped build, then its version, revision, time and modified flag",
			given: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "buildledger", Version: "v1.2.3"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "ade42935"}, {Key: "vcs.time", Value: "2026-12-07T06:18:25Z"},
					{Key: "vcs.modified", Value: "true"}}},
			want: buildVersion{Version: "v1.2.3", Commit: "ade42935", CommitTime: &commitTime, Modified: &modified, Go: "go1.26.8",
				Platform: platform},
		},
		{
			name:  "given a build from a checkout without VCS stamps, then devel",
			given: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "buildledger", Version: "(devel)"}},
			want:  buildVersion{Version: "(devel)", Go: "go1.26.8", Platform: platform},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := json.Marshal(versionOf(tt.given))
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestVersion_GivenAPipe_ThenAKeyValueBlockAndWithOutputJSONThenJSON(t *testing.T) {
	code, out := runCaptured(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "version ") || !strings.Contains(out, "\ngo ") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
	code, out = runCaptured(t, "version", "-o", "json")
	var v buildVersion
	if err := json.Unmarshal([]byte(out), &v); code != exitOK || err != nil || v.Version == "" || v.Go == "" {
		t.Errorf("version -o json: exit %d, output %q (%v)", code, out, err)
	}
}
