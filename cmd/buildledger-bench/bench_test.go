package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"buildledger/internal/awsconf"
)

func TestNewFigure_ratio_and_met(t *testing.T) {
	tests := []struct {
		name      string
		ours, raw float64
		goal      float64
		lower     bool
		wantRatio float64
		wantMet   bool
	}{
		{"given a rate above its floor then met", 950, 1000, 0.9, false, 0.95, true},
		{"given a rate exactly at its floor then met", 900, 1000, 0.9, false, 0.9, true},
		{"given a rate below its floor then not met", 800, 1000, 0.9, false, 0.8, false},
		{"given a time under its ceiling then met", 3, 2, 2, true, 1.5, true},
		{"given a time over its ceiling then not met", 5, 2, 2, true, 2.5, false},
		{"given no goal then never met", 2000, 1000, 0, false, 2, false},
		{"given no raw figure then no ratio and not met", 10, 0, 0.5, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFigure("x", "events/s", tt.ours, tt.raw, tt.goal, tt.lower)
			if math.Abs(f.Ratio-tt.wantRatio) > 1e-9 || f.Met != tt.wantMet {
				t.Errorf("got ratio %v met %v, want %v %v", f.Ratio, f.Met, tt.wantRatio, tt.wantMet)
			}
		})
	}
}

func TestMarkdown_given_figures_then_one_table_with_goals_and_escaped_notes(t *testing.T) {
	rep := Report{
		Date: "2026-01-02T03:04:05Z", Machine: "host, linux/amd64, 2 CPUs, go1.26", Duration: "4m2s",
		Figures: []Figure{
			newFigure("Append, 16 streams", "events/s", 1234.4, 1300, 0.9, false),
			newFigure("Aggregate load, 10,000 vs 10 events", "ms", 5, 2, 2, true),
			newFigure("Event put, 1 caller", "events/s", 950, 1000, 0, false),
		},
	}
	rep.Figures[0].Notes = "a | b\nc"
	md := rep.Markdown()
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if !strings.Contains(lines[0], "2026-01-02T03:04:05Z") || !strings.Contains(lines[0], "took 4m2s") {
		t.Errorf("first line %q lacks date or duration", lines[0])
	}
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 2+len(rep.Figures) {
		t.Fatalf("got %d table lines, want header, rule and %d rows:\n%s", len(rows), len(rep.Figures), md)
	}
	for _, want := range []struct {
		row   int
		parts []string
	}{
		{2, []string{"| Append, 16 streams |", "1,234 events/s", "1,300 events/s", "0.95x", "≥ 0.90x", "| yes |", `a \| b c`}},
		{3, []string{"5.00 ms", "2.00 ms", "2.50x", "≤ 2.00x", "**no**"}},
		{4, []string{"0.95x", "| — | — |"}},
	} {
		for _, p := range want.parts {
			if !strings.Contains(rows[want.row], p) {
				t.Errorf("row %q lacks %q", rows[want.row], p)
			}
		}
	}
}

func TestWriteJSON_given_a_report_then_the_figures_round_trip(t *testing.T) {
	rep := Report{Date: "d", Machine: "m", Figures: []Figure{newFigure("Replay", "events/s", 1, 2, 0.5, false)}}
	rep.Figures[0].Extra = map[string]float64{"segments": 8}
	path := filepath.Join(t.TempDir(), "nested", "bench.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Figures) != 1 || got.Figures[0].Ratio != 0.5 || !got.Figures[0].Met || got.Figures[0].Extra["segments"] != 8 {
		t.Errorf("got %+v", got)
	}
}

func TestConfig_given_defaults_then_valid_and_flags_override(t *testing.T) {
	var cfg Config
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	BindFlags(fs, &cfg)
	if err := fs.Parse([]string{"--figures", "append,put", "--append-streams", "2,4", "--e2e-commands", "300"}); err != nil {
		t.Fatal(err)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Figures, ",") != "append,put" || len(cfg.AppendStreams) != 2 || cfg.E2ECommands != 300 || cfg.ReplayEvents != 100_000 {
		t.Errorf("got %+v", cfg)
	}
	if !strings.HasPrefix(cfg.Prefix, "bench-") || cfg.Output != DefaultOutput {
		t.Errorf("prefix %q, output %q", cfg.Prefix, cfg.Output)
	}
}

func TestConfig_given_bad_values_then_every_problem_reported(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Figures = []string{"append", "nope"}
	cfg.Rounds = -1
	cfg.AppendStreams = []int{0}
	cfg.Prefix = "buildledger-"
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`unknown figure "nope"`, "Rounds -1", "AppendStreams entry 0", `must start with "bench-"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestConfig_given_bad_values_then_each_problem_on_a_line_of_its_own(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Figures = []string{"nope"}
	cfg.Rounds = 0
	cfg.PutCallers = []int{-2}
	cfg.E2EStreams = cfg.E2ECommands + 1
	cfg.Prefix = "bench-a_b-"
	want := `bench: config: unknown figure "nope" (want ` + strings.Join(AllFigures, ", ") + `)
bench: config: Rounds 0 is below 1
bench: config: PutCallers entry -2 is below 1
bench: config: E2EStreams 5001 exceeds E2ECommands 5000
bench: config: Prefix "bench-a_b-" may hold only letters, digits and '-'`
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate() = %v\nwant %s", err, want)
	}
}

func TestPercentile_given_values_then_nearest_rank(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, tt := range []struct{ p, want float64 }{{50, 5}, {95, 10}, {99, 10}, {10, 1}} {
		if got := percentile(v, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

// TestRun_Small runs the append, load and put figures (the npm baseline included) with tiny
// sizes against the emulators and checks that each reports positive figures.
func TestRun_Small(t *testing.T) {
	cfg := Config{
		Figures:       []string{FigureAppend, FigureLoad, FigurePut},
		Rounds:        2,
		AppendEvents:  40,
		AppendStreams: []int{1, 4},
		LoadLengths:   []int{10, 250},
		LoadRepeats:   3,
		PutEvents:     40,
		PutCallers:    []int{1, 4},
		PutNPMSeed:    "npmseed", // the test runs in the package's folder
	}
	rep, progress := runSmall(t, cfg)
	want := map[string]bool{
		"Append, 1 stream": false, "Append, 4 streams": false,
		"Aggregate load, 10 events": false, "Aggregate load, 250 events": false, "Aggregate load with snapshots, 250 vs 10 events": false,
		"Event put, 1 caller": false, "Event put, 4 callers": false,
		"Event put vs npm dynamodb-eventstore@0.1.0, 1 caller": false, "Event put vs npm dynamodb-eventstore@0.1.0, 4 callers": false,
	}
	for _, f := range rep.Figures {
		if _, ok := want[f.Name]; !ok {
			t.Errorf("unexpected figure %q", f.Name)
			continue
		}
		want[f.Name] = true
		if !(f.Ours > 0) || !(f.Raw > 0) || !(f.Ratio > 0) {
			t.Errorf("%s: ours %v, raw %v, ratio %v; want positive (%s)", f.Name, f.Ours, f.Raw, f.Ratio, f.Notes)
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("figure %q missing", name)
		}
	}
	if rep.Date == "" || !strings.Contains(rep.Machine, "CPUs") {
		t.Errorf("date %q, machine %q", rep.Date, rep.Machine)
	}
	if !strings.Contains(progress, "cleaned up") {
		t.Errorf("no cleanup reported:\n%s", progress)
	}
}

// runSmall runs a small benchmark against the emulators and returns its report and
// progress lines; it skips with BUILDLEDGER_SKIP_INTEGRATION=1 and fails when the
// emulators' endpoints are not set or a figure fails.
func runSmall(t *testing.T, cfg Config) (Report, string) {
	t.Helper()
	if os.Getenv("BUILDLEDGER_SKIP_INTEGRATION") == "1" {
		t.Skip("BUILDLEDGER_SKIP_INTEGRATION=1: integration test skipped")
	}
	if !awsconf.HasEndpoint() {
		t.Fatal("AWS_ENDPOINT_URL_DYNAMODB is not set; start the local stack with `make up` (or eval \"$(scripts/localstack.sh env)\")")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := Run(ctx, cfg, &progress)
	if err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, progress.String())
	}
	return rep, progress.String()
}

func TestMeasureIndexLoad_given_writes_then_hottest_share_and_peak_per_second(t *testing.T) {
	ws := []indexWrite{
		{stream: "a", key: "20261207T000000000000000001", bucket: "20261207#1"},
		{stream: "a", key: "20261207T000000500000000001", bucket: "20261207#1"},
		{stream: "b", key: "20261207T000000600000000001", bucket: "20261207#2"},
		{stream: "c", key: "20261207T000001000000000001", bucket: "20261207#3"},
	}
	got := measureIndexLoad(ws, func(w indexWrite) string { return w.bucket })
	if got.hottest != "20261207#1" || got.share() != 0.5 || got.partitions != 3 || got.peakHot != 2 || got.peakTotal != 3 {
		t.Errorf("sharded: %+v, share %v", got, got.share())
	}
	one := measureIndexLoad(ws, func(w indexWrite) string { return w.key[:8] })
	if one.share() != 1 || one.partitions != 1 || one.peakHot != 3 {
		t.Errorf("one bucket: %+v", one)
	}
}
