package webhooks

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"buildledger/internal/backoff"
	"buildledger/internal/feed"
	"buildledger/internal/settings"
)

// Defaults of DispatcherConfig.
const (
	// DefaultLeaseTTL is how long a lease lasts unless renewed.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultRequestTimeout bounds one POST.
	DefaultRequestTimeout = 10 * time.Second
	// DefaultMaxFailures is how many attempts in a row fail before a subscription parks.
	DefaultMaxFailures = 10
	// DefaultScanInterval is how often the dispatcher reads the subscriptions.
	DefaultScanInterval = 5 * time.Second
)

// DefaultBackoff is the wait between attempts: from up to a second, doubling, at most five
// minutes, jittered.
var DefaultBackoff = backoff.Backoff{Base: time.Second, Max: 5 * time.Minute}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Store keeps the subscriptions; required.
	Store Store
	// Feed is the gap-free feed the events come from; required.
	Feed *feed.Reader
	// Owner names this worker in leases; default hostname and a random id.
	Owner string
	// HTTP sends the deliveries; default a client without a timeout of its own (each
	// request is bounded by RequestTimeout).
	HTTP *http.Client
	// Now is the clock of the leases; default time.Now. Leases compare the clocks of
	// several workers: LeaseTTL must be well above the skew they tolerate.
	Now func() time.Time
	// LeaseTTL is how long a lease lasts unless renewed; default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// RequestTimeout bounds one POST; default DefaultRequestTimeout. At most LeaseTTL/2,
	// so that a lease renewed before a request outlasts it.
	RequestTimeout time.Duration
	// MaxFailures is how many failed attempts in a row park a subscription; default
	// DefaultMaxFailures.
	MaxFailures int
	// Backoff spaces the attempts on one event; default DefaultBackoff.
	Backoff backoff.Backoff
	// ScanInterval is how often the subscriptions are read to start and stop deliveries;
	// default DefaultScanInterval.
	ScanInterval time.Duration
	// Logger logs failures and parking; nil is silent.
	Logger *zerolog.Logger
}

func (c *DispatcherConfig) setDefaults() {
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = host + "/" + uuid.NewString()
	}
	settings.Default(&c.HTTP, &http.Client{})
	settings.DefaultFunc(&c.Now, time.Now)
	settings.Default(&c.LeaseTTL, DefaultLeaseTTL)
	settings.Default(&c.RequestTimeout, min(DefaultRequestTimeout, c.LeaseTTL/2))
	settings.Default(&c.MaxFailures, DefaultMaxFailures)
	settings.Default(&c.Backoff, DefaultBackoff)
	settings.Default(&c.ScanInterval, DefaultScanInterval)
}

// Validate reports every problem of the configuration at once.
func (c DispatcherConfig) Validate() error {
	p := settings.Prefixed("webhooks: config")
	p.If(c.Store == nil, "Store is nil")
	p.If(c.Feed == nil, "Feed is nil")
	settings.Positive(p, "LeaseTTL", c.LeaseTTL)
	p.If(c.RequestTimeout <= 0 || c.RequestTimeout > c.LeaseTTL/2, "RequestTimeout %v must be positive and at most half of LeaseTTL %v", c.RequestTimeout, c.LeaseTTL)
	settings.AtLeast(p, "MaxFailures", c.MaxFailures, 1)
	settings.Positive(p, "ScanInterval", c.ScanInterval)
	return p.Err()
}

// Dispatcher runs in each worker: it reads the subscriptions every ScanInterval and
// delivers each active one whose lease it gets, one goroutine per subscription. Several
// dispatchers may run against one store: the leases let exactly one deliver a subscription.
type Dispatcher struct {
	cfg DispatcherConfig
	log zerolog.Logger
}

// NewDispatcher returns the dispatcher of a validated configuration.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	return &Dispatcher{cfg: cfg, log: log}, nil
}

// Run delivers until ctx ends, then waits for its deliveries to stop, releases their leases
// and returns nil. An event being delivered when ctx ends keeps its checkpoint unwritten,
// and is sent again by whoever delivers the subscription next.
func (d *Dispatcher) Run(ctx context.Context) error {
	var (
		mu      sync.Mutex
		running = map[string]bool{}
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		subs, err := d.cfg.Store.List(ctx)
		if err != nil && ctx.Err() == nil {
			d.log.Warn().Err(err).Msg("webhooks: list subscriptions")
		}
		for _, s := range subs {
			mu.Lock()
			busy := running[s.Name]
			mu.Unlock()
			if busy || s.State != StateActive || !d.leasable(s) {
				continue
			}
			until := d.cfg.Now().Add(d.cfg.LeaseTTL)
			if err := d.cfg.Store.Lease(ctx, s.Name, d.cfg.Owner, s.Generation, d.cfg.Now(), until); err != nil {
				continue // another worker has it, or it changed: next scan
			}
			mu.Lock()
			running[s.Name] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.deliver(ctx, s, until)
				mu.Lock()
				delete(running, s.Name)
				mu.Unlock()
			}()
		}
		timer.Reset(d.cfg.ScanInterval)
	}
}

// leasable tells whether s's lease is free, ended, or this worker's.
func (d *Dispatcher) leasable(s Subscription) bool {
	return s.LeaseOwner == "" || s.LeaseOwner == d.cfg.Owner || s.LeaseUntil.Before(d.cfg.Now())
}

// deliver runs one leased subscription until it stops, and releases the lease when ctx
// ended it.
func (d *Dispatcher) deliver(ctx context.Context, s Subscription, until time.Time) {
	dl := &delivery{cfg: &d.cfg, sub: s, until: until, log: d.log}
	err := dl.run(ctx)
	switch {
	case ctx.Err() != nil:
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.cfg.Store.Release(releaseCtx, s.Name, d.cfg.Owner); err != nil {
			d.log.Warn().Err(err).Str("subscription", s.Name).Msg("webhooks: release lease")
		}
	case errors.Is(err, ErrLeaseLost), errors.Is(err, errParked):
		d.log.Info().Str("subscription", s.Name).Err(err).Msg("webhooks: delivery stopped")
	case err != nil:
		d.log.Warn().Str("subscription", s.Name).Err(err).Msg("webhooks: delivery failed; retried at the next scan")
	}
}
