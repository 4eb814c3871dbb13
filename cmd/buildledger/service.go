package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"buildledger/handlers"
	"buildledger/internal/apiauth"
	"buildledger/internal/app"
	"buildledger/internal/board"
	"buildledger/internal/costmeter"
	"buildledger/internal/httpapi"
	"buildledger/snapshots"
)

// serviceFlags are the flags of the long-running commands.
type serviceFlags struct {
	withInit bool
	webhooks webhookFlags
}

func newWorkerCommand(s *settings) *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Turn commands from SQS into events and keep the read models (runs until SIGINT/SIGTERM)",
		Long: `worker consumes the commands queue: it loads each command's aggregate (snapshot and newer
events), decides, and appends the events with the command's outcome in one transaction;
then it publishes them to the events topic, from which it applies them to the read models.

It serves /healthz and /metrics on --http-addr. On SIGINT or SIGTERM it stops taking
messages, finishes those in flight and exits; nothing is acknowledged before it is durable.

It also delivers the webhook subscriptions (see buildledger subscriptions --help).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runService(cmd.Context(), s, true, false, f)
		},
	}
	f.webhooks.bind(cmd.Flags())
	return cmd
}

func newServeCommand(s *settings) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Answer queries over HTTP (JSON under /v1/), with /healthz and /metrics",
		Long:  "serve answers read queries over HTTP on --http-addr. Routes:\n\n" + httpapi.RoutesHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runService(cmd.Context(), s, false, true, serviceFlags{})
		},
	}
}

func newRunCommand(s *settings) *cobra.Command {
	var f serviceFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the worker and the HTTP read API in one process",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runService(cmd.Context(), s, true, true, f)
		},
	}
	f.webhooks.bind(cmd.Flags())
	cmd.Flags().BoolVar(&f.withInit, "init", false, "create missing tables, queues and topic first (as `buildledger init`)")
	return cmd
}

func runService(ctx context.Context, s *settings, worker, serve bool, f serviceFlags) error {
	log := s.logger(os.Stderr)
	guard, err := s.APIAuth.guard(s.Identity, &log)
	if err != nil {
		return err
	}
	// The process's AWS requests and DynamoDB capacity units, on /metrics.
	meter := costmeter.New()
	b, err := openBackend(ctx, s, meter)
	if err != nil {
		return err
	}
	if f.withInit {
		if err := initResources(ctx, s, os.Stderr); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		costmeter.NewCollector(meter, "buildledger"))

	var w *handlers.Worker
	if worker {
		if w, err = newServiceWorker(b, s, &log, reg); err != nil {
			return err
		}
	}
	srv := newHTTPServer(s.HTTPAddr, newServiceMux(b, w, reg, serve, guard, &log), defaultHTTPTimeouts)
	ln, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.HTTPAddr, err)
	}
	log.Info().Str("addr", ln.Addr().String()).Bool("worker", worker).Bool("api", serve).Str("prefix", s.Prefix).Msg("buildledger started")

	hooksCtx, stopHooks := context.WithCancel(ctx)
	defer stopHooks()
	waitHooks := func() {}
	if worker {
		if waitHooks, err = startWebhooks(hooksCtx, b, s, f.webhooks, &log); err != nil {
			return err
		}
	}
	runErr := serveUntilStopped(ctx, srv, ln, w, &log)
	stopHooks()
	waitHooks()
	logStopped(&log, runErr)
	return runErr
}

// newServiceWorker builds the worker of worker and run, its metrics in reg.
func newServiceWorker(b *backend, s *settings, log *zerolog.Logger, reg *prometheus.Registry) (*handlers.Worker, error) {
	identities, err := s.Identity.verifier()
	if err != nil {
		return nil, err
	}
	access, err := s.Policy.accessPolicy(log)
	if err != nil {
		return nil, err
	}
	clock, err := s.Clock.checker()
	if err != nil {
		return nil, err
	}
	reg.MustRegister(clock.Collector())
	return b.app.Worker(app.WorkerConfig{WorkerConfig: handlers.WorkerConfig{
		Commands:        handlers.CommandHandlerConfig{SnapshotPolicy: snapshots.EveryN(s.SnapshotEvery), DefaultLease: s.DefaultLease, Identities: identities, Policy: access, ClockCheck: clock},
		Parallelism:     s.Parallelism,
		Logger:          log,
		MetricsRegistry: reg,
	}, NoInlineReadSide: !s.InlineReadSide})
}

// newServiceMux routes /healthz and /metrics, ready once w is (always, without a worker),
// and with serve the read API under /v1/ and the status board at /; guard (nil: off)
// protects the API and, when configured, /metrics, and turns the board off.
func newServiceMux(b *backend, w *handlers.Worker, reg *prometheus.Registry, serve bool, guard *apiauth.Guard, log *zerolog.Logger) *http.ServeMux {
	ready := func() error {
		if w != nil {
			return w.Ready()
		}
		return nil
	}
	mux := http.NewServeMux()
	health := handlers.HealthHandler(reg, ready)
	mux.Handle("/healthz", health)
	mux.Handle("/metrics", guard.Metrics(health))
	if serve {
		feed, _ := b.s.Clock.feedReader(b.app.Events) // the clock check was made by openBackend
		mux.Handle("/v1/", guard.API(httpapi.New(httpapi.Config{Reads: b.app.Queries, Events: b.app.Events, LockLog: b.app.LockLog, Logger: log,
			Feed: httpapi.FeedConfig{Reader: feed}})))
		// The status board: / exactly and /board/...; every other path stays 404.
		mux.Handle("/", guard.Board(board.New(board.Config{Reads: b.app.Queries, LockLog: b.app.LockLog, Logger: log})))
	}
	return mux
}

// serveUntilStopped serves on ln and runs w (if any) until ctx ends, the server fails or the
// worker stops; then it lets the worker finish the messages in flight before shutting the
// server down, and returns what stopped it (nil when ctx did).
func serveUntilStopped(ctx context.Context, srv *http.Server, ln net.Listener, w *handlers.Worker, log *zerolog.Logger) error {
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	workerDone := make(chan error, 1)
	if w != nil {
		go func() { workerDone <- w.Run(runCtx) }()
	} else {
		close(workerDone)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info().Msg("stopping: finishing messages in flight")
	case runErr = <-errc:
	case runErr = <-workerDone:
		if runErr == nil {
			runErr = errors.New("worker stopped")
		}
	}
	cancel()
	if w != nil {
		if err := <-workerDone; err != nil && runErr == nil && !errors.Is(err, context.Canceled) {
			runErr = err
		}
	}
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	_ = srv.Shutdown(shutdownCtx)
	return runErr
}

func logStopped(log *zerolog.Logger, err error) {
	if err != nil {
		log.Error().Err(err).Msg("buildledger stopped")
		return
	}
	log.Info().Msg("buildledger stopped")
}

// httpTimeouts bound how long the HTTP server waits on a client and how much it reads.
type httpTimeouts struct {
	// ReadHeader bounds reading a request's headers.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included.
	Read time.Duration
	// Write bounds the time from the end of the request's headers to the end of the answer.
	Write time.Duration
	// Idle bounds how long a keep-alive connection waits for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers; more is answered 431.
	MaxHeaderBytes int
}

// defaultHTTPTimeouts suit the read API, /healthz and /metrics: requests have no body and every
// answer takes a few DynamoDB reads, so a minute to write is generous (an answer still
// unwritten then is cut off), and a keep-alive connection left idle for a minute is closed
// rather than held open forever.
var defaultHTTPTimeouts = httpTimeouts{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          60 * time.Second,
	Idle:           60 * time.Second,
	MaxHeaderBytes: 64 << 10,
}

// newHTTPServer returns the server of serve, worker and run, answering on addr with h.
func newHTTPServer(addr string, h http.Handler, t httpTimeouts) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeaderBytes,
	}
}
