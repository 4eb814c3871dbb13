package handlers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"buildledger/internal/settings"
)

// Defaults of WorkerConfig.
const (
	// DefaultParallelism is how many messages of each queue one worker handles at once.
	DefaultParallelism = 8
	// DefaultReceiveWaitTime is the SQS long-polling wait (the maximum SQS allows).
	DefaultReceiveWaitTime = 20 * time.Second
	// DefaultCommandTimeout bounds the handling of one message.
	DefaultCommandTimeout = 60 * time.Second
	// DefaultCloseTimeout bounds how long shutdown waits for messages in flight.
	DefaultCloseTimeout = 30 * time.Second
	// DefaultRetries is how often a message that failed transiently is handled again
	// before it is nacked and left to SQS to redeliver.
	DefaultRetries = 3
)

// Names of the router handlers; they appear in logs and in dead-lettered messages.
const (
	commandsHandlerName  = "buildledger-commands"
	projectorHandlerName = "buildledger-projector"
	timersHandlerName    = "buildledger-timers"
)

// deadLetterGroup is the FIFO message group of dead-lettered commands. One group keeps the
// dead-letter queue in arrival order, which is what a person reading it expects.
const deadLetterGroup = "dead-letters"

// sqsMaxAttributes is the most message attributes SQS accepts on one message.
const sqsMaxAttributes = 10

// RetryConfig tunes the retry of transient failures inside one delivery. After the last
// retry the message is nacked and SQS redelivers it after the visibility timeout; after the
// queue's maxReceiveCount deliveries SQS moves it to the dead-letter queue.
type RetryConfig struct {
	// MaxRetries is how often a failed message is handled again; default DefaultRetries.
	// Negative disables retries.
	MaxRetries int
	// InitialInterval is the first wait; default 100ms.
	InitialInterval time.Duration
	// MaxInterval caps one wait; default 5s.
	MaxInterval time.Duration
}

func (c *RetryConfig) setDefaults() {
	settings.Default(&c.MaxRetries, DefaultRetries)
	c.MaxRetries = max(c.MaxRetries, 0)
	settings.DefaultUnlessPositive(&c.InitialInterval, 100*time.Millisecond)
	settings.DefaultUnlessPositive(&c.MaxInterval, 5*time.Second)
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// AWS is the AWS configuration of the SQS and SNS clients.
	AWS aws.Config
	// Names are the resource names; used to resolve Endpoints when those are not given.
	Names Names
	// Endpoints are the queue URLs and topic ARN (see ResolveMessaging). When the commands
	// queue URL is empty, Run resolves every endpoint from Names.
	Endpoints Endpoints
	// Commands configures the command handler: the event store (Events, required),
	// snapshots, conflict retries, the aggregate cache, limits, the default lease, clock
	// and id sources. Its Publisher, Timers and Metrics are the worker's own (the events
	// topic, the timers queue, the worker's metrics) and must be left nil; a nil Logger is
	// the worker's Logger. Its Clock also measures projection lag and tells whether a
	// lease timer is due.
	Commands CommandHandlerConfig
	// Applier applies published events to the read side; nil runs no projector, for a
	// worker that only decides commands.
	Applier EventApplier
	// Parallelism is how many command messages are handled at once; default
	// DefaultParallelism. FIFO message groups (one per stream) keep each stream in order
	// while different streams proceed in parallel.
	Parallelism int
	// ProjectorParallelism is how many events are applied at once; default Parallelism.
	ProjectorParallelism int
	// Retry tunes the retry of transient failures.
	Retry RetryConfig
	// ReceiveWaitTime is the SQS long-polling wait, whole seconds from 0 to 20; default
	// DefaultReceiveWaitTime. Shorter waits stop a worker faster.
	ReceiveWaitTime time.Duration
	// VisibilityTimeout overrides the queues' visibility timeout for received messages,
	// whole seconds; 0 keeps the queues' own. A nacked message returns after it.
	VisibilityTimeout time.Duration
	// CommandTimeout bounds the handling of one message; default DefaultCommandTimeout.
	// Handling is not cut short by shutdown: a message in flight finishes within it.
	CommandTimeout time.Duration
	// CloseTimeout bounds how long Run waits for messages in flight when stopping;
	// default DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Logger receives structured logs, watermill's included; nil is silent.
	Logger *zerolog.Logger
	// MetricsRegistry receives the worker's metrics; nil registers none. Workers sharing a
	// registry share their metrics.
	MetricsRegistry prometheus.Registerer
}

func (c *WorkerConfig) setDefaults() {
	settings.DefaultUnlessPositive(&c.Parallelism, DefaultParallelism)
	settings.DefaultUnlessPositive(&c.ProjectorParallelism, c.Parallelism)
	settings.Default(&c.ReceiveWaitTime, DefaultReceiveWaitTime)
	settings.DefaultUnlessPositive(&c.CommandTimeout, DefaultCommandTimeout)
	settings.DefaultUnlessPositive(&c.CloseTimeout, DefaultCloseTimeout)
	settings.Default(&c.Commands.Logger, c.Logger)
	c.Commands.setDefaults()
	c.Retry.setDefaults()
}

// Validate reports every problem of the configuration, the command handler's included.
func (c WorkerConfig) Validate() error {
	p := settings.Wrapped("handlers: worker config")
	p.If(c.AWS.Credentials == nil, "AWS config has no credentials")
	p.Add(c.Endpoints.validate(c.Names, c.Applier != nil)...)
	p.If(c.ReceiveWaitTime < 0 || c.ReceiveWaitTime > 20*time.Second, "ReceiveWaitTime %v is outside 0s to 20s", c.ReceiveWaitTime)
	p.If(c.VisibilityTimeout < 0 || c.VisibilityTimeout > 12*time.Hour, "VisibilityTimeout %v is outside 0s to 12h", c.VisibilityTimeout)
	p.If(c.Commands.Publisher != nil, "Commands.Publisher must be nil: the worker publishes to the events topic")
	p.If(c.Commands.Timers != nil, "Commands.Timers must be nil: the worker schedules on the timers queue")
	p.If(c.Commands.Metrics != nil, "Commands.Metrics must be nil: the worker registers its own with MetricsRegistry")
	commands := c.Commands
	commands.Publisher = noPublisher{} // stands in for the worker's own
	p.Add(commands.Validate())
	return p.Err()
}

// validate reports what is missing from endpoints, or from names when they are to be
// resolved; the projector's queues only when a projector runs.
func (ep Endpoints) validate(names Names, projector bool) []error {
	if ep.CommandsQueueURL == "" {
		if names.CommandsQueue == "" {
			return []error{errors.New("either Endpoints or Names is required")}
		}
		return nil
	}
	var errs []error
	missing := func(name, v string) {
		if v == "" {
			errs = append(errs, fmt.Errorf("Endpoints.%s is empty", name))
		}
	}
	missing("CommandsDLQURL", ep.CommandsDLQURL)
	missing("EventsTopicARN", ep.EventsTopicARN)
	missing("TimersQueueURL", ep.TimersQueueURL)
	missing("TimersDLQURL", ep.TimersDLQURL)
	if projector {
		missing("ProjectorQueueURL", ep.ProjectorQueueURL)
		missing("ProjectorDLQURL", ep.ProjectorDLQURL)
	}
	return errs
}

// Worker consumes the commands queue (deciding commands, scheduling the lease timers of
// their events on the timers queue and publishing the events to the events topic), the
// timers queue (expiring the locks whose leases ended, with nobody asking) and, with an
// Applier, the projector queue (applying events to the read side), each through a
// watermill router with Recoverer, CorrelationID, PoisonQueue and Retry middleware.
//
// Delivery guarantees: a message is acked only after its outcome is durable and its events
// are published. A worker that stops lets the messages in flight finish, but their acks
// may be lost with the subscription; SQS then redelivers them and, their outcome being
// stored, they only re-publish. Consumers of events must therefore be idempotent.
type Worker struct {
	cfg     WorkerConfig
	log     *zerolog.Logger
	wlog    watermill.LoggerAdapter
	metrics *Metrics
	router  *message.Router

	ran      atomic.Bool
	drain    drain
	mu       sync.Mutex
	commands *CommandHandler
	closers  []func() error
}

// NewWorker returns a Worker for a validated configuration. Nothing is contacted until Run.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	metrics, err := NewMetrics(cfg.MetricsRegistry)
	if err != nil {
		return nil, err
	}
	wlog := NewWatermillLogger(cfg.Logger)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout}, wlog)
	if err != nil {
		return nil, fmt.Errorf("handlers: new router: %w", err)
	}
	return &Worker{cfg: cfg, log: logger(cfg.Logger), wlog: wlog, metrics: metrics, router: router}, nil
}

// Metrics returns the worker's metrics.
func (w *Worker) Metrics() *Metrics { return w.metrics }

// Running is closed once the worker consumes its queues. Like watermill's, it stays closed
// after the worker stopped; Ready tells whether it still runs.
func (w *Worker) Running() chan struct{} { return w.router.Running() }

// Ready returns nil while the worker consumes its queues.
func (w *Worker) Ready() error {
	if !w.router.IsRunning() {
		return errors.New("handlers: worker is not running yet")
	}
	if w.router.IsClosed() {
		return errors.New("handlers: worker has stopped")
	}
	return nil
}

// Run consumes the queues until ctx is cancelled, then stops: it stops receiving, waits up
// to CloseTimeout for the messages in flight and for background snapshots, and returns
// nil. Messages not finished are not acked; SQS redelivers them. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.ran.CompareAndSwap(false, true) {
		return errors.New("handlers: a worker runs once; create a new one")
	}
	defer w.close()
	ep := w.cfg.Endpoints
	if ep.CommandsQueueURL == "" {
		var err error
		ep, err = ResolveMessaging(ctx, sqs.NewFromConfig(w.cfg.AWS), sns.NewFromConfig(w.cfg.AWS), w.cfg.Names)
		if err != nil {
			return err
		}
	}
	if err := w.wire(ep); err != nil {
		return err
	}

	errc := make(chan error, 1)
	go func() { errc <- w.router.Run(context.Background()) }()
	stopped := func(err error) error {
		_ = w.router.Close()
		w.waitSnapshots()
		if err == nil {
			err = errors.New("every subscription stopped")
		}
		return fmt.Errorf("handlers: router stopped: %w", err)
	}
	select {
	case <-w.router.Running():
		w.log.Info().Str("commands_queue", ep.CommandsQueueURL).Bool("projector", w.cfg.Applier != nil).
			Int("parallelism", w.cfg.Parallelism).Msg("worker running")
	case err := <-errc:
		return stopped(err)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return stopped(err)
	}
	w.log.Info().Msg("worker stopping: finishing and deleting the messages in hand")
	w.drain.wait(w.cfg.CloseTimeout)
	closeErr := w.router.Close()
	runErr := <-errc
	w.waitSnapshots()
	if err := errors.Join(closeErr, runErr); err != nil {
		return fmt.Errorf("handlers: stop worker: %w", err)
	}
	w.log.Info().Msg("worker stopped")
	return nil
}

func (w *Worker) waitSnapshots() {
	w.mu.Lock()
	commands := w.commands
	w.mu.Unlock()
	if commands != nil {
		commands.Wait()
	}
}

func (w *Worker) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.closers {
		if err := c(); err != nil {
			w.log.Warn().Err(err).Msg("closing worker resources")
		}
	}
	w.closers = nil
}
