// Command buildledger-bench measures buildledger against the AWS emulators it develops on, and reports
// every figure as a ratio against a raw baseline: the fewest hand-built AWS calls that do the
// same work, run in the same process, on the same emulator, interleaved with the measured
// code. Machines are shared and noisy; a ratio of two runs taken side by side says more than
// an absolute rate.
//
// Figures:
//
//   - append: events/s through the event store's Append, one event per command, at several
//     numbers of concurrent streams, vs a hand-built TransactWriteItems of the same items.
//   - load: time to load an aggregate (snapshot, tail, restore) for streams of growing
//     length, vs loading and rehydrating the whole stream; the goal row compares the
//     longest stream with the shortest.
//   - e2e: commands/s from an SQS send until the projection shows the command's version,
//     through the worker and the projector, vs SQS send, receive and delete plus one
//     TransactWriteItems per command; and, counted by internal/costmeter, the work per
//     accepted command of each side (DynamoDB requests, capacity units, SQS+SNS requests).
//   - replay: events/s rebuilding every read model from the events table, vs a parallel
//     Scan of that table, and vs that Scan plus BatchWriteItem of the rows the replay ends
//     with; the work per replayed event of the replay and of the scan and writes; and the
//     peak memory of a small vs a large replay.
//   - put: events/s of the dynamodb-eventstore operation (Store.Put) at 1 and many callers,
//     vs one PutItem per event, and vs the seed's npm package (dynamodb-eventstore@0.1.0)
//     driven by Node (npmseed/driver.js) in the same run.
//
// Each run creates its tables, queues and topics under a unique prefix and deletes them at
// the end. Run refuses to start unless the AWS endpoints point somewhere explicit
// (AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL): it creates and deletes resources.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/pflag"

	"buildledger/internal/settings"
)

// Figure names accepted in Config.Figures.
const (
	FigureAppend = "append"
	FigureLoad   = "load"
	FigureE2E    = "e2e"
	FigureReplay = "replay"
	FigurePut    = "put"
)

// AllFigures lists every figure in the order Run measures them.
var AllFigures = []string{FigureAppend, FigureLoad, FigurePut, FigureE2E, FigureReplay}

// prefixStart starts every run's resource prefix.
const prefixStart = "bench-"

// DefaultOutput is where the JSON report goes unless configured otherwise.
const DefaultOutput = "bench-results/bench.json"

// Config says what to measure and how much. Zero values take the defaults of DefaultConfig;
// sizes are modest so that a full run fits in a few minutes on two cores.
type Config struct {
	// Figures names the figures to run (see AllFigures); empty runs them all. Memory is
	// measured during e2e and replay.
	Figures []string
	// Rounds splits each throughput comparison into this many alternating rounds (measured
	// code, raw, raw, measured code, …), so that drift of a noisy machine hits both sides.
	Rounds int
	// AppendEvents is how many events each side appends at each concurrency level.
	AppendEvents int
	// AppendStreams are the concurrency levels of the append figure: one writer per stream.
	AppendStreams []int
	// LoadLengths are the stream lengths of the load figure, in events.
	LoadLengths []int
	// SnapshotEvery is the snapshot interval of the load figure, in events.
	SnapshotEvery int
	// LoadRepeats is how often each load is timed; the median counts.
	LoadRepeats int
	// PutEvents is how many events each side puts at each concurrency level.
	PutEvents int
	// PutCallers are the concurrency levels of the put figure.
	PutCallers []int
	// PutNPMSeed is the folder of the Node driver that puts the same events with the seed's
	// npm package, dynamodb-eventstore@0.1.0, in the same run (installed there with `npm ci`
	// on first use); default DefaultNPMSeed, "off" leaves that baseline out.
	PutNPMSeed string
	// E2ECommands is how many commands the end-to-end figure sends through each side.
	E2ECommands int
	// E2EStreams is how many streams those commands are spread over.
	E2EStreams int
	// E2EParallelism is how many messages the worker (and the raw consumer) handle at once.
	E2EParallelism int
	// E2EWarmup is how many commands of each stream each side sends, untimed and uncounted,
	// before the end-to-end figure's rounds: the emulators' code paths and the worker's
	// caches are warm, as in a service that has been running; default 2, negative for none.
	E2EWarmup int
	// ReplayEvents is the size of the large replay, in events.
	ReplayEvents int
	// ReplaySmallEvents is the size of the small replay whose peak memory the large one's is
	// compared with.
	ReplaySmallEvents int
	// ReplaySegments is how many segments the raw parallel Scan reads at once.
	ReplaySegments int
	// Prefix starts the name of every resource the run creates, and the run deletes
	// everything named under it at the end; it must start with "bench-". Default
	// "bench-<unix time>-".
	Prefix string
	// Output is where the caller should write the JSON report (see Report.WriteJSON).
	Output string
	// AWS is the AWS configuration to use; nil loads it from the environment, pointed at the
	// emulators by the standard AWS_ENDPOINT_URL_* variables.
	AWS *aws.Config
}

// DefaultConfig returns the configuration of `make bench`.
func DefaultConfig() Config {
	return Config{
		Figures:           slices.Clone(AllFigures),
		Rounds:            10,
		AppendEvents:      3000,
		AppendStreams:     []int{1, 16, 64},
		LoadLengths:       []int{10, 100, 1000, 10000},
		SnapshotEvery:     100,
		LoadRepeats:       15,
		PutEvents:         5000,
		PutCallers:        []int{1, 16},
		PutNPMSeed:        DefaultNPMSeed,
		E2ECommands:       5000,
		E2EStreams:        100,
		E2EParallelism:    16,
		E2EWarmup:         2,
		ReplayEvents:      100_000,
		ReplaySmallEvents: 10_000,
		ReplaySegments:    8,
		Output:            DefaultOutput,
	}
}

func (c *Config) setDefaults() {
	d := DefaultConfig()
	if len(c.Figures) == 0 {
		c.Figures = d.Figures
	}
	settings.Default(&c.Rounds, d.Rounds)
	settings.Default(&c.AppendEvents, d.AppendEvents)
	settings.Default(&c.SnapshotEvery, d.SnapshotEvery)
	settings.Default(&c.LoadRepeats, d.LoadRepeats)
	settings.Default(&c.PutEvents, d.PutEvents)
	settings.Default(&c.E2ECommands, d.E2ECommands)
	settings.Default(&c.E2EStreams, d.E2EStreams)
	settings.Default(&c.E2EParallelism, d.E2EParallelism)
	settings.Default(&c.E2EWarmup, d.E2EWarmup)
	settings.Default(&c.ReplayEvents, d.ReplayEvents)
	settings.Default(&c.ReplaySmallEvents, d.ReplaySmallEvents)
	settings.Default(&c.ReplaySegments, d.ReplaySegments)
	if len(c.AppendStreams) == 0 {
		c.AppendStreams = d.AppendStreams
	}
	if len(c.LoadLengths) == 0 {
		c.LoadLengths = d.LoadLengths
	}
	if len(c.PutCallers) == 0 {
		c.PutCallers = d.PutCallers
	}
	settings.Default(&c.PutNPMSeed, d.PutNPMSeed)
	settings.Default(&c.Prefix, fmt.Sprintf("bench-%d-", time.Now().Unix()))
	settings.Default(&c.Output, d.Output)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := settings.Prefixed("bench: config")
	for _, f := range c.Figures {
		p.If(!slices.Contains(AllFigures, f), "unknown figure %q (want %s)", f, strings.Join(AllFigures, ", "))
	}
	settings.AtLeast(p, "Rounds", c.Rounds, 1)
	settings.AtLeast(p, "AppendEvents", c.AppendEvents, 1)
	settings.AtLeast(p, "SnapshotEvery", c.SnapshotEvery, 1)
	settings.AtLeast(p, "LoadRepeats", c.LoadRepeats, 1)
	settings.AtLeast(p, "PutEvents", c.PutEvents, 1)
	settings.AtLeast(p, "E2ECommands", c.E2ECommands, 1)
	settings.AtLeast(p, "E2EStreams", c.E2EStreams, 1)
	settings.AtLeast(p, "E2EParallelism", c.E2EParallelism, 1)
	settings.AtLeast(p, "ReplayEvents", c.ReplayEvents, 1)
	settings.AtLeast(p, "ReplaySmallEvents", c.ReplaySmallEvents, 1)
	settings.AtLeast(p, "ReplaySegments", c.ReplaySegments, 1)
	for _, list := range []struct {
		name string
		v    []int
	}{{"AppendStreams", c.AppendStreams}, {"LoadLengths", c.LoadLengths}, {"PutCallers", c.PutCallers}} {
		for _, v := range list.v {
			settings.AtLeast(p, list.name+" entry", v, 1)
		}
	}
	p.If(c.E2EStreams > c.E2ECommands, "E2EStreams %d exceeds E2ECommands %d", c.E2EStreams, c.E2ECommands)
	p.If(len(c.Prefix) > 40, "Prefix %q is longer than 40 characters", c.Prefix)
	// The run deletes whatever is named under its prefix at the end: keep it away from
	// the names of an installation.
	p.If(!strings.HasPrefix(c.Prefix, prefixStart) || len(c.Prefix) == len(prefixStart),
		"Prefix %q must start with %q and name the run", c.Prefix, prefixStart)
	p.If(strings.ContainsFunc(c.Prefix, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	}), "Prefix %q may hold only letters, digits and '-'", c.Prefix)
	return p.Err()
}

// BindFlags registers the benchmark's flags on fs, with cfg's current values (or the
// defaults, for a zero cfg) as their defaults. The names are those `buildledger bench` had,
// so BENCHFLAGS written for it still work.
func BindFlags(fs *pflag.FlagSet, cfg *Config) {
	d := DefaultConfig()
	def := func(v, fallback int) int {
		if v != 0 {
			return v
		}
		return fallback
	}
	defList := func(v, fallback []int) []int {
		if len(v) > 0 {
			return v
		}
		return fallback
	}
	figures := cfg.Figures
	if len(figures) == 0 {
		figures = d.Figures
	}
	out := cfg.Output
	if out == "" {
		out = d.Output
	}
	npmSeed := cfg.PutNPMSeed
	if npmSeed == "" {
		npmSeed = d.PutNPMSeed
	}
	fs.StringSliceVar(&cfg.Figures, "figures", figures, "figures to run: "+strings.Join(AllFigures, ","))
	fs.IntVar(&cfg.Rounds, "rounds", def(cfg.Rounds, d.Rounds), "alternating rounds each throughput comparison is split into")
	fs.IntVar(&cfg.AppendEvents, "append-events", def(cfg.AppendEvents, d.AppendEvents), "events appended by each side at each stream count")
	fs.IntSliceVar(&cfg.AppendStreams, "append-streams", defList(cfg.AppendStreams, d.AppendStreams), "concurrent streams of the append figure")
	fs.IntSliceVar(&cfg.LoadLengths, "load-lengths", defList(cfg.LoadLengths, d.LoadLengths), "stream lengths of the aggregate load figure")
	fs.IntVar(&cfg.SnapshotEvery, "load-snapshot-every", def(cfg.SnapshotEvery, d.SnapshotEvery), "snapshot interval of the aggregate load figure, in events")
	fs.IntVar(&cfg.LoadRepeats, "load-repeats", def(cfg.LoadRepeats, d.LoadRepeats), "timed loads per stream length and method (the median counts)")
	fs.IntVar(&cfg.PutEvents, "put-events", def(cfg.PutEvents, d.PutEvents), "events put by each side at each caller count")
	fs.IntSliceVar(&cfg.PutCallers, "put-callers", defList(cfg.PutCallers, d.PutCallers), "concurrent callers of the put figure")
	fs.StringVar(&cfg.PutNPMSeed, "put-npm-seed", npmSeed, `folder of the Node driver of the put figure's npm baseline (dynamodb-eventstore@0.1.0, installed there with npm ci on first use); "off" leaves it out`)
	fs.IntVar(&cfg.E2ECommands, "e2e-commands", def(cfg.E2ECommands, d.E2ECommands), "commands sent through each side of the end-to-end figure")
	fs.IntVar(&cfg.E2EStreams, "e2e-streams", def(cfg.E2EStreams, d.E2EStreams), "streams the end-to-end commands are spread over")
	fs.IntVar(&cfg.E2EParallelism, "e2e-parallelism", def(cfg.E2EParallelism, d.E2EParallelism), "messages the worker and the raw consumer handle at once")
	fs.IntVar(&cfg.E2EWarmup, "e2e-warmup", def(cfg.E2EWarmup, d.E2EWarmup), "commands of each stream each side sends untimed before the end-to-end rounds (warm emulators and caches); negative for none")
	fs.IntVar(&cfg.ReplayEvents, "replay-events", def(cfg.ReplayEvents, d.ReplayEvents), "events of the large replay")
	fs.IntVar(&cfg.ReplaySmallEvents, "replay-small-events", def(cfg.ReplaySmallEvents, d.ReplaySmallEvents), "events of the small replay (memory comparison)")
	fs.IntVar(&cfg.ReplaySegments, "replay-segments", def(cfg.ReplaySegments, d.ReplaySegments), "segments of the raw parallel scan")
	fs.StringVar(&cfg.Prefix, "resource-prefix", cfg.Prefix, `name prefix, starting with "bench-", of the resources the run creates and deletes (default "bench-<unix time>-")`)
	fs.StringVar(&cfg.Output, "out", out, "path of the JSON report")
}

// Report is the result of one run.
type Report struct {
	// Date is when the run started, RFC 3339 in UTC.
	Date string `json:"date"`
	// Machine describes where it ran: host name, GOOS/GOARCH, CPUs, Go version.
	Machine string `json:"machine"`
	// Duration is how long the run took, e.g. "4m12s".
	Duration string `json:"duration"`
	// Figures are the measurements, in the order they were taken.
	Figures []Figure `json:"figures"`
	// Work is, for the figures that count it (end to end, replay), what each side asked
	// of AWS per accepted command or replayed event.
	Work []Work `json:"work,omitempty"`
}

// Run measures the figures cfg names against the emulators, writing progress lines to
// progress (nil is silent). It returns every figure it could measure; a figure that failed
// is reported in the error, joined with the others, and missing from the report.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Report, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if progress == nil {
		progress = io.Discard
	}
	started := time.Now()
	rep := Report{Date: started.UTC().Format(time.RFC3339), Machine: machine()}
	env, err := newEnvironment(ctx, cfg, progress)
	if err != nil {
		return rep, err
	}
	defer env.cleanup()

	steps := []struct {
		name string
		run  func(context.Context, *environment) ([]Figure, error)
	}{
		{FigureAppend, measureAppend},
		{FigureLoad, measureLoad},
		{FigurePut, measurePut},
		{FigureE2E, measureEndToEnd},
		{FigureReplay, measureReplay},
	}
	var errs []error
	for _, s := range steps {
		if !slices.Contains(cfg.Figures, s.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		t := time.Now()
		env.logf("%s: start", s.name)
		figs, err := s.run(ctx, env)
		rep.Figures = append(rep.Figures, figs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("bench: %s: %w", s.name, err))
			env.logf("%s: failed after %s: %v", s.name, time.Since(t).Round(time.Millisecond), err)
			continue
		}
		env.logf("%s: done in %s", s.name, time.Since(t).Round(time.Millisecond))
	}
	rep.Work = env.recordedWork()
	rep.Duration = time.Since(started).Round(time.Second).String()
	return rep, errors.Join(errs...)
}

func machine() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s, %s/%s, %d CPUs, %s", host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}
