package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"buildledger/internal/backoff"
	"buildledger/internal/webhooks"
)

// subscriptionsHelp says what subscriptions are, for every subscriptions command.
const subscriptionsHelp = `Webhook subscriptions: the worker POSTs each event of the feed that a subscription selects
to its URL, at least once and in order per stream, and stores the subscription's checkpoint
after each 2xx answer. A failing event is retried with jittered, doubling waits; after
--webhook-max-failures attempts (a worker flag) the subscription is parked on it, shown by
list, until resume sends it again. One worker at a time delivers a subscription (a lease).

Each request carries Content-Type: application/json, Buildledger-Delivery (the same id for
every attempt at one event, for receivers to drop duplicates), Buildledger-Timestamp (Unix
seconds) and Buildledger-Signature: sha256=<hex HMAC-SHA256 of timestamp + "." + body>,
keyed with the subscription's secret. The body is {"subscription", "deliveryId", "event"}.

These commands are configuration, not domain events: they write the subscriptions table
directly, and take effect at the workers' next scan (a few seconds).`

func newSubscriptionsCommand(s *settings) *cobra.Command {
	return group(&cobra.Command{
		Use:   "subscriptions",
		Short: "Webhook subscriptions: add, list, pause, resume, remove, replay (configuration, not events)",
		Long:  subscriptionsHelp,
	}, newSubscriptionsAddCommand(s), newSubscriptionsListCommand(s),
		newSubscriptionsStateCommand(s, "pause", "Stop delivering a subscription, keeping its checkpoint", (*webhooks.DynamoStore).Pause),
		newSubscriptionsStateCommand(s, "resume", "Deliver a paused or parked subscription again, from its checkpoint (a parked one from the failing event)", (*webhooks.DynamoStore).Resume),
		newSubscriptionsStateCommand(s, "remove", "Delete a subscription and its checkpoint", (*webhooks.DynamoStore).Remove),
		newSubscriptionsReplayCommand(s))
}

func newSubscriptionsAddCommand(s *settings) *cobra.Command {
	var (
		sub        webhooks.Subscription
		secretFile string
		from       string
	)
	cmd := &cobra.Command{
		Use:   "add --name NAME --url URL --secret-file FILE [--kinds lock,repo] [--streams PATTERN] [--from now|beginning|KEY|TIME]",
		Short: "Add a webhook subscription",
		Long: subscriptionsHelp + `

The secret is a shared secret: the receiver holds the same one to verify signatures, so it
is stored as given in the subscriptions table (protect the table like the secret).`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			secret, err := os.ReadFile(secretFile)
			if err != nil {
				return usageError("--secret-file: %v", err)
			}
			sub.Secret = strings.TrimRight(string(secret), "\r\n")
			if sub.Checkpoint, err = parseReplayFrom(from); err != nil {
				return usageError("--from: %v", err)
			}
			sub.CreatedAt = time.Now().UTC()
			if err := b.app.Subscriptions.Add(cmd.Context(), sub); err != nil {
				return subscriptionError(err)
			}
			got, err := b.app.Subscriptions.Get(cmd.Context(), sub.Name)
			if err != nil {
				return err
			}
			return s.print(cmd, subscriptionRowOf(got, time.Now()))
		}),
	}
	requiredString(cmd, &sub.Name, "name", "subscription name")
	requiredString(cmd, &sub.URL, "url", "receiver URL, http or https")
	f := cmd.Flags()
	f.StringSliceVar(&sub.Kinds, "kinds", nil, "stream kinds to deliver, e.g. lock,repo,status,job (default every kind)")
	f.StringVar(&sub.Streams, "streams", "", `stream ids to deliver, a glob ("lock:prod", "repo:acme/*"; * does not cross "/") (default every stream)`)
	requiredString(cmd, &secretFile, "secret-file", "file holding the shared HMAC secret")
	f.StringVar(&from, "from", "now", "where delivery starts: now, beginning, an event key or an RFC 3339 time")
	return cmd
}

// subscriptionRow is a subscription as list shows it; the secret is never shown.
type subscriptionRow struct {
	Name       string `json:"name"`
	URL        string `json:"url"`
	Kinds      string `json:"kinds"`
	Streams    string `json:"streams"`
	State      string `json:"state"`
	Checkpoint string `json:"checkpoint"`
	Lag        string `json:"lag"`
	Failures   int    `json:"failures"`
	LastError  string `json:"lastError,omitempty"`
	ParkedOn   string `json:"parkedOn,omitempty"`
	LeasedBy   string `json:"leasedBy,omitempty"`
}

func subscriptionRowOf(sub webhooks.Subscription, now time.Time) subscriptionRow {
	r := subscriptionRow{Name: sub.Name, URL: sub.URL, Kinds: strings.Join(sub.Kinds, ","), Streams: sub.Streams,
		State: string(sub.State), Checkpoint: sub.Checkpoint, Lag: sub.Lag(now).String(), Failures: sub.Failures,
		LastError: sub.LastError, ParkedOn: sub.ParkedKey}
	if sub.LeaseOwner != "" && sub.LeaseUntil.After(now) {
		r.LeasedBy = sub.LeaseOwner
	}
	return r
}

func newSubscriptionsListCommand(s *settings) *cobra.Command {
	return query(s, &cobra.Command{
		Use:   "list",
		Short: "List the subscriptions: state, checkpoint, lag, failures, the event a parked one stopped on",
	}, func(cmd *cobra.Command, b *backend) ([]subscriptionRow, error) {
		subs, err := b.app.Subscriptions.List(cmd.Context())
		if err != nil {
			return nil, err
		}
		rows := make([]subscriptionRow, 0, len(subs))
		now := time.Now()
		for _, sub := range subs {
			rows = append(rows, subscriptionRowOf(sub, now))
		}
		return rows, nil
	})
}

func newSubscriptionsStateCommand(s *settings, use, short string, change func(*webhooks.DynamoStore, context.Context, string) error) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   use + " --name NAME",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			if err := change(b.app.Subscriptions, cmd.Context(), name); err != nil {
				return subscriptionError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s done\n", name, use)
			return nil
		}),
	}
	requiredString(cmd, &name, "name", "subscription name")
	return cmd
}

func newSubscriptionsReplayCommand(s *settings) *cobra.Command {
	var name, from string
	cmd := &cobra.Command{
		Use:   "replay --name NAME --from KEY|TIME",
		Short: "Deliver a subscription's events again from an event key or a time (same delivery ids)",
		Args:  cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			cp, err := parseReplayFrom(from)
			if err != nil {
				return usageError("--from: %v", err)
			}
			if err := b.app.Subscriptions.Replay(cmd.Context(), name, cp); err != nil {
				return subscriptionError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: replaying from %s\n", name, from)
			return nil
		}),
	}
	requiredString(cmd, &name, "name", "subscription name")
	requiredString(cmd, &from, "from", "an event key (that event included), an RFC 3339 time, or beginning")
	return cmd
}

// parseReplayFrom reads where delivery starts: now, beginning, an event key or a time.
func parseReplayFrom(from string) (string, error) {
	switch from {
	case "beginning":
		return "", nil
	case "now":
		return webhooks.CheckpointAt(time.Now()), nil
	}
	if cp, err := webhooks.CheckpointBefore(from); err == nil {
		return cp, nil
	}
	t, err := time.Parse(time.RFC3339Nano, from)
	if err != nil {
		return "", fmt.Errorf("%q is neither now, beginning, an event key nor an RFC 3339 time", from)
	}
	return webhooks.CheckpointAt(t), nil
}

// subscriptionError maps the store's errors to exit codes.
func subscriptionError(err error) error {
	switch {
	case errors.Is(err, webhooks.ErrInvalid):
		return &exitError{code: exitUsage, err: err}
	case errors.Is(err, webhooks.ErrNotFound), errors.Is(err, webhooks.ErrExists):
		return &exitError{code: exitRejected, err: err}
	}
	return err
}

// webhookFlags tune the worker's webhook delivery.
type webhookFlags struct {
	off            bool
	maxFailures    int
	leaseTTL       time.Duration
	requestTimeout time.Duration
	backoffMax     time.Duration
}

func (w *webhookFlags) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&w.off, "no-webhooks", false, "do not deliver webhook subscriptions in this process")
	fs.IntVar(&w.maxFailures, "webhook-max-failures", webhooks.DefaultMaxFailures, "failed attempts in a row on one event before its subscription is parked")
	fs.DurationVar(&w.leaseTTL, "webhook-lease", webhooks.DefaultLeaseTTL, "how long a worker's lease on a subscription lasts unless renewed (well above the workers' clock skew)")
	fs.DurationVar(&w.requestTimeout, "webhook-timeout", webhooks.DefaultRequestTimeout, "bound of one delivery request (at most half of --webhook-lease)")
	fs.DurationVar(&w.backoffMax, "webhook-backoff-max", webhooks.DefaultBackoff.Max, "longest wait between attempts on a failing event")
}

// startWebhooks runs the webhook dispatcher of a worker until ctx ends; wait waits for it
// to stop (its leases released).
func startWebhooks(ctx context.Context, b *backend, s *settings, w webhookFlags, log *zerolog.Logger) (wait func(), err error) {
	if w.off {
		return func() {}, nil
	}
	reader, err := s.Clock.feedReader(b.app.Events)
	if err != nil {
		return nil, err
	}
	d, err := b.app.Webhooks(webhooks.DispatcherConfig{Feed: reader, Logger: log, MaxFailures: w.maxFailures, LeaseTTL: w.leaseTTL,
		RequestTimeout: w.requestTimeout, Backoff: backoff.Backoff{Base: webhooks.DefaultBackoff.Base, Max: w.backoffMax}})
	if err != nil {
		return nil, usageError("%v", err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	return func() { <-done }, nil
}
