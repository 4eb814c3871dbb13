// Package app is buildledger's composition root: it builds, from one AWS configuration and
// one set of resource names, the stores, the command client, the projector and the worker.
// The binary, the benchmark and the fault suite all build them here, so that what they run
// and measure is what production runs.
package app

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/client"
	"buildledger/eventstore"
	esdynamo "buildledger/eventstore/dynamo"
	"buildledger/handlers"
	"buildledger/internal/settings"
	"buildledger/internal/webhooks"
	"buildledger/projections"
	projdynamo "buildledger/projections/dynamo"
	snapdynamo "buildledger/snapshots/dynamo"
)

// Config says which installation to build.
type Config struct {
	// AWS is the AWS configuration of the clients (see internal/awsconf); required.
	AWS aws.Config
	// Names are the installation's table, queue and topic names (handlers.NewNames); required.
	Names handlers.Names
	// ReadPrefix is the name prefix of the read-model tables; default Names.Prefix.
	ReadPrefix string
	// DynamoDB is the client of the tables; default one built from AWS.
	DynamoDB *dynamodb.Client
	// SQS is the client of the queues; default one built from AWS.
	SQS *sqs.Client
	// SNS is the client of the events topic; default one built from AWS.
	SNS *sns.Client
	// TimeShards is how many time index partitions a day's events are spread over (see
	// eventstore/dynamo.Config.TimeShards); 0 for the event store's default.
	TimeShards int
}

func (c *Config) setDefaults() {
	settings.Default(&c.ReadPrefix, c.Names.Prefix)
	if c.DynamoDB == nil {
		c.DynamoDB = dynamodb.NewFromConfig(c.AWS)
	}
	if c.SQS == nil {
		c.SQS = sqs.NewFromConfig(c.AWS)
	}
	if c.SNS == nil {
		c.SNS = sns.NewFromConfig(c.AWS)
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	p := settings.Prefixed("app: config")
	p.If(c.Names.Prefix == "" || c.Names.EventsTable == "", "Names are required (handlers.NewNames)")
	return p.Err()
}

// App is one installation of buildledger: its clients and stores. Building it does no I/O.
type App struct {
	// AWS is the configuration the worker's SQS and SNS clients are built from.
	AWS aws.Config
	// Names are the installation's resource names.
	Names handlers.Names
	// DynamoDB is the client of the installation's tables.
	DynamoDB *dynamodb.Client
	// SQS is the client of the installation's queues.
	SQS *sqs.Client
	// SNS is the client of the installation's events topic.
	SNS *sns.Client
	// Events is the event store (events and command outcomes).
	Events *esdynamo.Store
	// Snapshots stores aggregate snapshots.
	Snapshots *snapdynamo.Store
	// Reads is the read-model store the projector writes and replay rebuilds.
	Reads *projdynamo.Store
	// Queries answers the read side's questions.
	Queries *projections.Queries
	// LockLog answers the lock questions only the events answer: history, as-of, queue
	// and freezes.
	LockLog *projections.LockLog
	// Subscriptions are the webhook subscriptions, their checkpoints and leases.
	Subscriptions *webhooks.DynamoStore

	readPrefix string
}

// New builds the stores of the installation cfg names.
func New(cfg Config) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	n := cfg.Names
	events, err := esdynamo.New(esdynamo.Config{Client: cfg.DynamoDB, EventsTable: n.EventsTable, CommandsTable: n.CommandsTable, TimeShards: cfg.TimeShards})
	if err != nil {
		return nil, err
	}
	snaps, err := snapdynamo.New(snapdynamo.Config{Client: cfg.DynamoDB, Table: n.SnapshotsTable})
	if err != nil {
		return nil, err
	}
	reads, err := projdynamo.New(projdynamo.Config{Client: cfg.DynamoDB, Prefix: cfg.ReadPrefix})
	if err != nil {
		return nil, err
	}
	subs, err := webhooks.NewDynamoStore(webhooks.DynamoConfig{Client: cfg.DynamoDB, Table: webhooks.TableName(n.Prefix)})
	if err != nil {
		return nil, err
	}
	return &App{
		AWS:           cfg.AWS,
		Names:         n,
		DynamoDB:      cfg.DynamoDB,
		SQS:           cfg.SQS,
		SNS:           cfg.SNS,
		Events:        events,
		Snapshots:     snaps,
		Reads:         reads,
		Queries:       projections.NewQueries(reads),
		LockLog:       projections.NewLockLog(events),
		Subscriptions: subs,
		readPrefix:    cfg.ReadPrefix,
	}, nil
}

// CreateTables creates the installation's tables that do not exist yet — events (with its
// time index) and commands, snapshots, and the read model's current generation with its
// pointer, and the webhook subscriptions — waits until they are active, and returns the names of those it created.
func (a *App) CreateTables(ctx context.Context) ([]string, error) {
	created, err := esdynamo.CreateTables(ctx, a.DynamoDB, a.Names.EventsTable, a.Names.CommandsTable)
	if err != nil {
		return created, err
	}
	made, err := snapdynamo.CreateTable(ctx, a.DynamoDB, a.Names.SnapshotsTable)
	if made {
		created = append(created, a.Names.SnapshotsTable)
	}
	if err != nil {
		return created, err
	}
	reads, err := projdynamo.CreateTables(ctx, a.DynamoDB, a.readPrefix)
	created = append(created, reads...)
	if err != nil {
		return created, err
	}
	subs := webhooks.TableName(a.Names.Prefix)
	made, err = webhooks.CreateTable(ctx, a.DynamoDB, subs)
	if made {
		created = append(created, subs)
	}
	return created, err
}

// Webhooks returns the webhook dispatcher of a worker: it delivers the installation's
// subscriptions from feed (cfg.Store is the App's subscriptions unless set).
func (a *App) Webhooks(cfg webhooks.DispatcherConfig) (*webhooks.Dispatcher, error) {
	if cfg.Store == nil {
		cfg.Store = a.Subscriptions
	}
	return webhooks.NewDispatcher(cfg)
}

// ProvisionMessaging creates the installation's queues and topic that do not exist yet (see
// handlers.ProvisionMessaging) and returns their endpoints and what it created.
func (a *App) ProvisionMessaging(ctx context.Context, cfg handlers.MessagingConfig) (handlers.Endpoints, []string, error) {
	return handlers.ProvisionMessaging(ctx, a.SQS, a.SNS, a.Names, cfg)
}

// ResolveMessaging looks up the endpoints of the installation's queues and topic.
func (a *App) ResolveMessaging(ctx context.Context) (handlers.Endpoints, error) {
	return handlers.ResolveMessaging(ctx, a.SQS, a.SNS, a.Names)
}

// Client returns the command client of the installation: it sends to the commands queue at
// queueURL, waits on the event store's outcomes and the read side's positions, and records
// the outcome of a command it withdraws.
func (a *App) Client(queueURL string) (*client.Client, error) {
	return client.New(client.Config{
		SQS:       a.SQS,
		QueueURL:  queueURL,
		Outcomes:  a.Events,
		Positions: a.Queries,
		Recorder:  a.Events,
	})
}

// Projector returns the projector that applies events to the installation's read model.
func (a *App) Projector() (*projections.Projector, error) {
	return projections.NewProjector(projections.ProjectorConfig{Store: a.Reads, Events: a.Events})
}

// WorkerConfig tunes a worker built by App.Worker.
type WorkerConfig struct {
	// WorkerConfig tunes the worker (parallelism, Commands.SnapshotPolicy, retries,
	// logger, metrics…). Its AWS configuration, names, Commands.Events and
	// Commands.Snapshots are the App's, and its Applier the App's projector, unless set here.
	handlers.WorkerConfig
	// NoProjector runs a worker that decides commands but applies no events: they wait in
	// the projector queue.
	NoProjector bool
	// WrapApplier, when set, wraps the projector, to watch what it applies.
	WrapApplier func(*projections.Projector) handlers.EventApplier
	// NoInlineReadSide leaves the read side to the projector alone: a command's events are
	// committed without their read-model rows, which follow when the projector applies the
	// published events. By default a worker that runs the projector commits the rows with
	// the events whenever it can (see inlineEvents).
	NoInlineReadSide bool
	// WatchInline, when set, is told of the records whose read side was committed with them.
	WatchInline func([]eventstore.Record)
}

// Worker returns a worker of the installation: it decides commands from the commands
// queue into the event store and, unless cfg.NoProjector, applies the published events to
// the read model.
func (a *App) Worker(cfg WorkerConfig) (*handlers.Worker, error) {
	wc := cfg.WorkerConfig
	if wc.AWS.Region == "" && wc.AWS.Credentials == nil {
		wc.AWS = a.AWS
	}
	if wc.Names.Prefix == "" {
		wc.Names = a.Names
	}
	if wc.Commands.Snapshots == nil {
		wc.Commands.Snapshots = a.Snapshots
	}
	var projector *projections.Projector
	if wc.Applier == nil && !cfg.NoProjector {
		p, err := a.Projector()
		if err != nil {
			return nil, err
		}
		projector, wc.Applier = p, p
		if cfg.WrapApplier != nil {
			wc.Applier = cfg.WrapApplier(p)
		}
	}
	if wc.Commands.Events == nil {
		wc.Commands.Events = a.Events
		if projector != nil && !cfg.NoInlineReadSide {
			results, err := inlineResults(wc.MetricsRegistry)
			if err != nil {
				return nil, err
			}
			wc.Commands.Events = inlineEvents{Store: a.Events, reads: a.Reads, projector: projector, committed: cfg.WatchInline, results: results}
		}
	}
	return handlers.NewWorker(wc)
}
