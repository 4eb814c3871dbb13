package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"buildledger/eventstore/dynamo"
	"buildledger/internal/awsconf"
)

// environment is what every figure shares: the configuration, the AWS clients, and the
// resources created so far, to be deleted at the end.
type environment struct {
	cfg      Config
	aws      aws.Config
	db       *dynamodb.Client
	sqs      *sqs.Client
	sns      *sns.Client
	progress io.Writer
	started  time.Time

	mu     sync.Mutex
	work   []Work
	tables []string
	queues []string // URLs
	topics []string // ARNs
}

// newEnvironment loads the AWS configuration and checks that DynamoDB answers.
func newEnvironment(ctx context.Context, cfg Config, progress io.Writer) (*environment, error) {
	var awsCfg aws.Config
	if cfg.AWS != nil {
		awsCfg = *cfg.AWS
	} else {
		var err error
		if awsCfg, err = loadAWS(ctx); err != nil {
			return nil, err
		}
	}
	e := &environment{
		cfg:      cfg,
		aws:      awsCfg,
		db:       dynamodb.NewFromConfig(awsCfg),
		sqs:      sqs.NewFromConfig(awsCfg),
		sns:      sns.NewFromConfig(awsCfg),
		progress: progress,
		started:  time.Now(),
	}
	if _, err := e.db.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		return nil, fmt.Errorf("bench: DynamoDB does not answer (is the local stack up? `make up`): %w", err)
	}
	e.logf("resources under prefix %s", cfg.Prefix)
	return e, nil
}

// loadAWS builds the AWS configuration from the environment. It refuses to run without an
// explicit endpoint, so that a benchmark never creates tables in a real account by mistake,
// and it supplies the emulators' dummy credentials and region when none are set.
func loadAWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconf.Load(ctx, awsconf.Config{
		// Up to 64 concurrent writers and the worker's consumers share one client: keep a
		// connection for each, or the benchmark would measure TCP handshakes.
		Timeout:             60 * time.Second,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 256,
		// No client-side retry quota: an emulator under load answers slowly, and a run must
		// not fail because a quota ran dry.
		MaxAttempts:      10,
		NoRetryQuota:     true,
		LocalCredentials: true,
		RequireEndpoint:  true,
	})
	if errors.Is(err, awsconf.ErrNoEndpoint) {
		return aws.Config{}, fmt.Errorf("bench: the benchmark runs against the local emulators: %w", err)
	}
	return cfg, err
}

// recordWork keeps a figure's work per command for the report.
func (e *environment) recordWork(w Work) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.work = append(e.work, w)
}

// recordedWork returns the work recorded so far.
func (e *environment) recordedWork() []Work {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.work)
}

// logf writes one progress line, stamped with the time since the run began.
func (e *environment) logf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.progress, "bench %7s  %s\n", time.Since(e.started).Round(100*time.Millisecond), fmt.Sprintf(format, args...))
}

// runID is the run's prefix without "bench-" and the final "-": a short name for the run
// inside stream ids.
func (e *environment) runID() string {
	return strings.Trim(strings.TrimPrefix(e.cfg.Prefix, prefixStart), "-")
}

// name returns a resource name under the run's prefix.
func (e *environment) name(suffix string) string { return e.cfg.Prefix + suffix }

// storeAndRaw sets up the two sides of a store figure: a Store on tables of its own, with
// db as its client (a figure that meters its side passes a metered one), and a second pair
// of tables for the raw side, so that the sides never share items or partitions. drop
// deletes all four tables.
func (e *environment) storeAndRaw(ctx context.Context, what string, db *dynamodb.Client) (st *dynamo.Store, rawEvents, rawCommands string, drop func(), err error) {
	events, commands, err := e.eventTables(ctx, what)
	if err != nil {
		return nil, "", "", nil, err
	}
	drop = func() { e.dropTables(context.WithoutCancel(ctx), events, commands) }
	rawEvents, rawCommands, err = e.eventTables(ctx, what+"-raw")
	if err != nil {
		drop()
		return nil, "", "", nil, err
	}
	drop = func() { e.dropTables(context.WithoutCancel(ctx), events, commands, rawEvents, rawCommands) }
	st, err = dynamo.New(dynamo.Config{Client: db, EventsTable: events, CommandsTable: commands})
	if err != nil {
		drop()
		return nil, "", "", nil, err
	}
	return st, rawEvents, rawCommands, drop, nil
}

// eventTables creates an events and a commands table under the run's prefix and returns
// their names.
func (e *environment) eventTables(ctx context.Context, what string) (events, commands string, err error) {
	events, commands = e.name(what+"-events"), e.name(what+"-commands")
	e.track(events, commands)
	if _, err := dynamo.CreateTables(ctx, e.db, events, commands); err != nil {
		return "", "", err
	}
	return events, commands, nil
}

// track remembers tables to delete at the end.
func (e *environment) track(tables ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tables = append(e.tables, tables...)
}

// trackMessaging remembers queues (URLs) and topics (ARNs) to delete at the end.
func (e *environment) trackMessaging(queues, topics []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.queues = append(e.queues, queues...)
	e.topics = append(e.topics, topics...)
}

// dropTables deletes tables now, to give the emulator its memory back before the next
// figure, and forgets them.
func (e *environment) dropTables(ctx context.Context, tables ...string) {
	for _, t := range tables {
		_, _ = e.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t)})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	kept := e.tables[:0]
	for _, t := range e.tables {
		dropped := false
		for _, d := range tables {
			dropped = dropped || d == t
		}
		if !dropped {
			kept = append(kept, t)
		}
	}
	e.tables = kept
}

// cleanup deletes every resource the run created, whatever happened to the run's context:
// those it tracked, and any other table, queue or topic named under the run's prefix (the
// read model's generations, for instance).
func (e *environment) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e.mu.Lock()
	tables, queues, topics := e.tables, e.queues, e.topics
	e.tables, e.queues, e.topics = nil, nil, nil
	e.mu.Unlock()
	tables = append(tables, e.listTables(ctx)...)
	queues = append(queues, e.listQueues(ctx)...)
	topics = append(topics, e.listTopics(ctx)...)
	var failed []string
	deleted := map[string]bool{}
	remove := func(names []string, del func(string) error) {
		for _, n := range names {
			if deleted[n] {
				continue
			}
			deleted[n] = true
			if err := del(n); err != nil {
				failed = append(failed, n)
			}
		}
	}
	remove(topics, func(t string) error {
		_, err := e.sns.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(t)})
		return err
	})
	remove(queues, func(q string) error {
		var gone *sqstypes.QueueDoesNotExist
		if _, err := e.sqs.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(q)}); !errors.As(err, &gone) {
			return err
		}
		return nil
	})
	remove(tables, func(t string) error {
		var notFound *ddbtypes.ResourceNotFoundException
		if _, err := e.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t)}); !errors.As(err, &notFound) {
			return err
		}
		return nil
	})
	if len(failed) > 0 {
		e.logf("could not delete %d resources: %v", len(failed), failed)
		return
	}
	e.logf("cleaned up %d resources under %s", len(deleted), e.cfg.Prefix)
}

// listTables returns the tables named under the run's prefix.
func (e *environment) listTables(ctx context.Context) []string {
	var names []string
	p := dynamodb.NewListTablesPaginator(e.db, &dynamodb.ListTablesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return names
		}
		for _, t := range page.TableNames {
			if strings.HasPrefix(t, e.cfg.Prefix) {
				names = append(names, t)
			}
		}
	}
	return names
}

// listQueues returns the URLs of the queues named under the run's prefix.
func (e *environment) listQueues(ctx context.Context) []string {
	out, err := e.sqs.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String(e.cfg.Prefix)})
	if err != nil {
		return nil
	}
	return out.QueueUrls
}

// listTopics returns the ARNs of the topics named under the run's prefix.
func (e *environment) listTopics(ctx context.Context) []string {
	var arns []string
	p := sns.NewListTopicsPaginator(e.sns, &sns.ListTopicsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return arns
		}
		for _, t := range page.Topics {
			arn := aws.ToString(t.TopicArn)
			if strings.HasPrefix(arn[strings.LastIndex(arn, ":")+1:], e.cfg.Prefix) {
				arns = append(arns, arn)
			}
		}
	}
	return arns
}
