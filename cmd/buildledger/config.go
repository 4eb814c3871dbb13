package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"buildledger/eventstore/dynamo/layout"
	"buildledger/handlers"
	"buildledger/internal/termout"
)

// settings is the configuration shared by every subcommand: read once from the environment
// (BUILDLEDGER_* and the standard AWS variables), then overridden by flags.
type settings struct {
	// Prefix is the name prefix of every table, queue and topic.
	Prefix string
	// LogFormat is "auto" (pretty on a terminal, JSON otherwise), "json" or "pretty".
	LogFormat string
	// Output is the format of what commands print: "auto" (a table on a terminal, JSON
	// otherwise), "json" or "table".
	Output string
	// LogLevel is a zerolog level name.
	LogLevel string
	// HTTPAddr is where serve and run listen for the read API, /healthz and /metrics.
	HTTPAddr string
	// Parallelism is how many commands the worker handles at once, on different streams.
	Parallelism int
	// SnapshotEvery takes a snapshot each time a stream crosses a multiple of this many events.
	SnapshotEvery int
	// MaxReceiveCount is how often SQS delivers a message before it dead-letters it.
	MaxReceiveCount int
	// DefaultLease is the worker's lease of a lock that asks for none; 0 for none.
	DefaultLease time.Duration
	// InlineReadSide commits a command's read-model rows with its events when the worker can.
	InlineReadSide bool
	// TimeShards is how many time index partitions a day's events are spread over.
	TimeShards int
	// AWSDebug shows the AWS SDK's own warnings (env BUILDLEDGER_AWS_DEBUG, no flag).
	AWSDebug bool
	// Identity says how commands prove who sends them and which tokens the worker trusts.
	Identity identitySettings
	// APIAuth says who may read the HTTP read API and /metrics.
	APIAuth apiAuthSettings
	// Policy says which access policy the worker applies, and how.
	Policy policySettings
	// Clock says how far off the worker's clock may be, and so how far behind the feed stays.
	Clock clockSettings

	env envDefaults
}

func envString(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envDefaults reads flag defaults from the environment and keeps every value it cannot
// parse, for validate to report: a mistyped variable must not quietly mean the default.
type envDefaults struct {
	problems []error
}

// parsed returns the value of the environment variable name parsed by parse, or def when
// it is unset or empty; a value parse refuses is a problem, and def is returned.
func parsed[T any](e *envDefaults, name string, def T, want string, parse func(string) (T, error)) T {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	out, err := parse(v)
	if err != nil {
		e.problems = append(e.problems, fmt.Errorf("%s %q: want %s", name, v, want))
		return def
	}
	return out
}

func (e *envDefaults) int(name string, def int) int {
	return parsed(e, name, def, "a whole number", strconv.Atoi)
}

func (e *envDefaults) bool(name string, def bool) bool {
	return parsed(e, name, def, "true or false", strconv.ParseBool)
}

func (e *envDefaults) enabled(name string) bool {
	return parsed(e, name, false, "1, true, yes or on, or 0, false, no or off", parseEnabled)
}

func (e *envDefaults) duration(name string, def time.Duration) time.Duration {
	return parsed(e, name, def, "a duration such as 30s or 5m", time.ParseDuration)
}

// bindFlags registers the shared flags with defaults taken from the environment.
func (s *settings) bindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&s.Prefix, "prefix", envString("BUILDLEDGER_PREFIX", handlers.DefaultPrefix), "name prefix of every table, queue and topic (env BUILDLEDGER_PREFIX)")
	fs.StringVarP(&s.Output, "output", "o", envString("BUILDLEDGER_OUTPUT", string(termout.FormatAuto)), "output format: auto (a table on a terminal, JSON otherwise), json or table (env BUILDLEDGER_OUTPUT)")
	fs.StringVar(&s.LogFormat, "log-format", envString("BUILDLEDGER_LOG_FORMAT", logAuto), "log format: auto (pretty on a terminal, JSON otherwise), json or pretty (env BUILDLEDGER_LOG_FORMAT)")
	fs.StringVar(&s.LogLevel, "log-level", envString("BUILDLEDGER_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env BUILDLEDGER_LOG_LEVEL)")
	fs.StringVar(&s.HTTPAddr, "http-addr", envString("BUILDLEDGER_HTTP_ADDR", "127.0.0.1:8080"), "listen address of the read API, /healthz and /metrics (env BUILDLEDGER_HTTP_ADDR)")
	fs.IntVar(&s.Parallelism, "parallelism", s.env.int("BUILDLEDGER_PARALLELISM", 8), "commands handled at once, on different streams (env BUILDLEDGER_PARALLELISM)")
	fs.IntVar(&s.SnapshotEvery, "snapshot-every", s.env.int("BUILDLEDGER_SNAPSHOT_EVERY", handlers.DefaultSnapshotEvery), "take a snapshot every N events of a stream; 0 disables (env BUILDLEDGER_SNAPSHOT_EVERY)")
	s.AWSDebug = os.Getenv("BUILDLEDGER_AWS_DEBUG") != ""
	fs.IntVar(&s.MaxReceiveCount, "max-receive-count", s.env.int("BUILDLEDGER_MAX_RECEIVE_COUNT", 20), "deliveries of a message before SQS dead-letters it; set at init (env BUILDLEDGER_MAX_RECEIVE_COUNT)")
	fs.DurationVar(&s.DefaultLease, "default-lease", s.env.duration("BUILDLEDGER_DEFAULT_LEASE", 0), "worker: lease of a lock that asks for none, e.g. 30m; 0 for none (env BUILDLEDGER_DEFAULT_LEASE)")
	fs.BoolVar(&s.InlineReadSide, "inline-read-side", s.env.bool("BUILDLEDGER_INLINE_READ_SIDE", true), "worker: commit a command's read-model rows in the command's own transaction when the worker's projector wrote the stream last; false leaves every row to the projector (env BUILDLEDGER_INLINE_READ_SIDE)")
	fs.IntVar(&s.TimeShards, "time-shards", s.env.int("BUILDLEDGER_TIME_SHARDS", layout.DefaultTimeShards), fmt.Sprintf("time index partitions a day's events are spread over, 1 to %d; every count used is recorded, so readers find them all (env BUILDLEDGER_TIME_SHARDS)", layout.MaxTimeShards))
	s.Identity.bindFlags(fs, &s.env)
	s.APIAuth.bindFlags(fs, &s.env)
	s.Policy.bindFlags(fs)
	s.Clock.bindFlags(fs, &s.env)
}

func (s settings) validate() error {
	var errs []error
	if _, err := handlers.NewNames(s.Prefix); err != nil {
		errs = append(errs, err)
	}
	if s.LogFormat != logAuto && s.LogFormat != logJSON && s.LogFormat != logPretty {
		errs = append(errs, fmt.Errorf("--log-format %q: want auto, json or pretty", s.LogFormat))
	}
	if _, err := termout.ParseFormat(s.Output); err != nil {
		errs = append(errs, fmt.Errorf("--output %q: want auto, json or table", s.Output))
	}
	if _, err := zerolog.ParseLevel(s.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: %w", s.LogLevel, err))
	}
	if s.Parallelism < 1 {
		errs = append(errs, fmt.Errorf("--parallelism %d: want at least 1", s.Parallelism))
	}
	if s.SnapshotEvery < 0 {
		errs = append(errs, fmt.Errorf("--snapshot-every %d: want 0 or more", s.SnapshotEvery))
	}
	if s.TimeShards < 1 || s.TimeShards > layout.MaxTimeShards {
		errs = append(errs, fmt.Errorf("--time-shards %d: want 1 to %d", s.TimeShards, layout.MaxTimeShards))
	}
	errs = append(errs, s.env.problems...)
	errs = append(errs, s.Policy.validate())
	return errors.Join(errs...)
}

func (s settings) names() handlers.Names {
	n, _ := handlers.NewNames(s.Prefix) // validated before use
	return n
}

// Values of --log-format.
const (
	logAuto   = "auto"   // pretty on a terminal, JSON otherwise
	logJSON   = "json"   // a JSON object a line, for log collectors
	logPretty = "pretty" // zerolog's console lines, for people
)

// logger builds the process logger, writing to w: JSON lines, or zerolog's console lines
// when the format (see logStyle) says pretty.
func (s settings) logger(w io.Writer) zerolog.Logger {
	level, _ := zerolog.ParseLevel(s.LogLevel)
	if pretty, color := logStyle(s.LogFormat, termout.IsTerminal(w), os.Getenv("NO_COLOR")); pretty {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !color}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// logStyle decides whether logs in format go out pretty, and coloured: auto is pretty on a
// terminal only; colour needs a terminal and no NO_COLOR.
func logStyle(format string, terminal bool, noColor string) (pretty, color bool) {
	pretty = format == logPretty || (format == logAuto && terminal)
	return pretty, pretty && terminal && noColor == ""
}
