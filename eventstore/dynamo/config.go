// Package dynamo is the DynamoDB adapter of the event store port (eventstore.Store).
//
// Events live in one table keyed by stream and version; a global secondary index (TimeIndex)
// orders them by timestamp key within time buckets, a day split into Config.TimeShards
// shards by stream, which ReadAll merges in key order. Command outcomes live in a second table
// keyed by command id. An Append writes its events and the command's outcome in one
// TransactWriteItems whose conditions make each version slot and each command id take one
// write only. ScanSegments reads the whole events table in parallel segments, for replays.
// See CreateTables for the schema, and package layout for the attribute names.
package dynamo

import (
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
	"buildledger/internal/settings"
)

// Config configures a Store. Zero values of the optional fields take the defaults below.
type Config struct {
	// Client is the DynamoDB client every call goes through; required.
	Client *dynamodb.Client
	// EventsTable is the name of the events table, prefix included; required.
	EventsTable string
	// CommandsTable is the name of the command outcomes table, prefix included; required.
	CommandsTable string
	// Now is the clock for timestamp keys and recordedAt; default time.Now.
	Now func() time.Time
	// PutBatchWindow is the longest a free slot waits for its share of the current load
	// (calls waiting, being written and just answered) before writing the calls it has;
	// default 2 ms. A lone caller is written at once. A negative value writes every Put at
	// once, alone.
	PutBatchWindow time.Duration
	// PutBatchSize is the most Put calls one BatchWriteItem carries, 1 to 25; default 25. A
	// batch is written as soon as it is full and a slot is free.
	PutBatchSize int
	// PutMaxInFlight is the most BatchWriteItem calls of Put written at once; default 4.
	// Calls beyond wait for a slot and fill bigger batches meanwhile.
	PutMaxInFlight int
	// PutMaxAttempts is how many times a batch is written before the items DynamoDB still
	// leaves unprocessed fail; default 8. Attempts back off exponentially from 10 ms.
	PutMaxAttempts int
	// ScanPageSize is the most items one Scan call of ScanSegments returns; default 1000.
	ScanPageSize int
	// TimeShards is how many time index partitions a day's events of Append are spread over,
	// by their stream (see layout.Shard), 1 to layout.MaxTimeShards; default
	// layout.DefaultTimeShards. 1 writes the unsharded day bucket of earlier versions. It may
	// change between runs or differ between workers: each count used on a day is recorded,
	// and readers read every shard of the largest. Put events always use
	// layout.PutTimeShards.
	TimeShards int
	// ReadAllParallelism is the most Queries ReadAll runs at once, one per shard of a day;
	// default 8.
	ReadAllParallelism int
}

const (
	defaultPutBatchWindow = 2 * time.Millisecond
	maxBatchWriteItems    = 25
	defaultPutMaxAttempts = 8
	defaultPutMaxInFlight = 4
	defaultScanPageSize   = 1000
	defaultReadAllQueries = 8
)

func (c *Config) setDefaults() {
	settings.DefaultFunc(&c.Now, time.Now)
	settings.Default(&c.PutBatchWindow, defaultPutBatchWindow)
	settings.Default(&c.PutBatchSize, maxBatchWriteItems)
	settings.Default(&c.PutMaxAttempts, defaultPutMaxAttempts)
	settings.Default(&c.PutMaxInFlight, defaultPutMaxInFlight)
	settings.Default(&c.ScanPageSize, defaultScanPageSize)
	settings.Default(&c.TimeShards, layout.DefaultTimeShards)
	settings.Default(&c.ReadAllParallelism, defaultReadAllQueries)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := settings.Prefixed("eventstore/dynamo: config")
	p.If(c.Client == nil, "Client is nil")
	p.If(c.EventsTable == "", "EventsTable is empty")
	p.If(c.CommandsTable == "", "CommandsTable is empty")
	p.If(c.EventsTable != "" && c.EventsTable == c.CommandsTable, "EventsTable and CommandsTable are both %q", c.EventsTable)
	settings.Within(p, "PutBatchSize", c.PutBatchSize, 1, maxBatchWriteItems)
	settings.AtLeast(p, "PutMaxAttempts", c.PutMaxAttempts, 1)
	settings.AtLeast(p, "PutMaxInFlight", c.PutMaxInFlight, 1)
	settings.AtLeast(p, "ScanPageSize", c.ScanPageSize, 1)
	settings.Within(p, "TimeShards", c.TimeShards, 1, layout.MaxTimeShards)
	settings.AtLeast(p, "ReadAllParallelism", c.ReadAllParallelism, 1)
	return p.Err()
}

// Store is the DynamoDB event store. It is safe for concurrent use; use one per process, so
// that its key generator and caches are shared by all callers.
type Store struct {
	cfg     Config
	db      *dynamodb.Client
	keys    *eventstore.KeyGenerator
	buckets sync.Map // day bucket "YYYYMMDD" → struct{}: recorded in the buckets list
	shards  sync.Map // "YYYYMMDD/n" → struct{}: shard count n recorded for the day
	puts    *batcher
}

var _ eventstore.Store = (*Store)(nil)

// New returns a Store for the tables named in cfg, which must exist (see CreateTables).
func New(cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{
		cfg:  cfg,
		db:   cfg.Client,
		keys: eventstore.NewKeyGenerator(cfg.Now),
	}
	s.puts = newBatcher(cfg.PutBatchWindow, cfg.PutBatchSize, s.writePuts)
	s.puts.maxInFlight = cfg.PutMaxInFlight
	return s, nil
}

func (s *Store) clock() time.Time { return s.cfg.Now().Round(0).UTC() }
