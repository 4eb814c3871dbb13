package handlers

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Command outcome labels of Metrics.Commands.
const (
	// LabelAccepted counts commands whose events (or no-op) were committed by this delivery.
	LabelAccepted = "accepted"
	// LabelRejected counts commands a domain rule refused.
	LabelRejected = "rejected"
	// LabelInvalid counts messages that could not be decoded or validated.
	LabelInvalid = "invalid"
	// LabelDuplicate counts deliveries of a command id that already had an outcome.
	LabelDuplicate = "duplicate"
)

// Metrics are the worker's Prometheus metrics. Several workers in one process may share a
// registry: registering an already registered metric reuses it.
type Metrics struct {
	// Commands counts processed command messages by outcome (accepted, rejected, invalid,
	// duplicate).
	Commands *prometheus.CounterVec
	// Conflicts counts appends that lost a race and were decided again.
	Conflicts prometheus.Counter
	// Duplicates counts deliveries of a command id that already had an outcome.
	Duplicates prometheus.Counter
	// DeadLettered counts messages sent to a dead-letter queue, by reason (invalid,
	// reused_id) and queue (commands, projector, timers).
	DeadLettered *prometheus.CounterVec
	// SnapshotsTaken counts snapshots stored.
	SnapshotsTaken prometheus.Counter
	// SnapshotsFailed counts snapshots that could not be taken or stored.
	SnapshotsFailed prometheus.Counter
	// SnapshotsUnusable counts stored snapshots ignored on load (other schema, bad state).
	SnapshotsUnusable prometheus.Counter
	// ProjectionLag observes, for every event applied to the read side, how long after it
	// was recorded it was applied.
	ProjectionLag prometheus.Histogram
	// EventsApplied counts events applied to the read side.
	EventsApplied prometheus.Counter
	// TimersScheduled counts lease timers sent for committed events (again when a
	// duplicate command re-publishes them).
	TimersScheduled prometheus.Counter
	// TimersResent counts lease timers that arrived before they were due and were sent
	// again for the time left.
	TimersResent prometheus.Counter
	// TimersFired counts lease timers that were due and had their lock settled.
	TimersFired prometheus.Counter
	// PolicyWouldReject counts, by action, commands the access policy in audit mode would
	// have rejected in enforce mode (they were decided as without a policy).
	PolicyWouldReject *prometheus.CounterVec
	// PolicyRejected counts, by action, commands the enforced access policy rejected.
	PolicyRejected *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg; a nil reg registers nothing.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns = "buildledger"
	m := &Metrics{
		Commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "commands_processed_total",
			Help: "Command messages processed, by outcome.",
		}, []string{"outcome"}),
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "command_conflicts_retried_total",
			Help: "Appends that lost a race with another writer and were decided again.",
		}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "command_duplicates_total",
			Help: "Deliveries of a command id that already had an outcome.",
		}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "messages_dead_lettered_total",
			Help: "Messages sent to a dead-letter queue, by queue and reason.",
		}, []string{"queue", "reason"}),
		SnapshotsTaken: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "snapshots_taken_total",
			Help: "Aggregate snapshots stored.",
		}),
		SnapshotsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "snapshots_failed_total",
			Help: "Aggregate snapshots that could not be taken or stored.",
		}),
		SnapshotsUnusable: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "snapshots_unusable_total",
			Help: "Stored snapshots ignored on load because of another schema or undecodable state.",
		}),
		ProjectionLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Name: "projection_lag_seconds",
			Help:    "Time from an event being recorded to it being applied to the read side.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		EventsApplied: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "projection_events_applied_total",
			Help: "Events applied to the read side.",
		}),
		TimersScheduled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "lease_timers_scheduled_total",
			Help: "Lease timers sent to the timers queue for committed events.",
		}),
		TimersResent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "lease_timers_resent_total",
			Help: "Lease timers that arrived before they were due and were sent again.",
		}),
		TimersFired: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "lease_timers_fired_total",
			Help: "Lease timers that were due and had their lock settled.",
		}),
		PolicyWouldReject: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "policy_would_reject_total",
			Help: "Commands the access policy, in audit mode, would have rejected in enforce mode, by action.",
		}, []string{"action"}),
		PolicyRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "policy_rejected_total",
			Help: "Commands the enforced access policy rejected (code forbidden), by action.",
		}, []string{"action"}),
	}
	// Every label value exists from the start, so that dashboards and rate() see zeros
	// rather than missing series.
	for _, l := range []string{LabelAccepted, LabelRejected, LabelInvalid, LabelDuplicate} {
		m.Commands.WithLabelValues(l)
	}
	for _, q := range []string{"commands", "projector", "timers"} {
		m.DeadLettered.WithLabelValues(q, DeadLetterInvalid)
	}
	m.DeadLettered.WithLabelValues("commands", DeadLetterReusedID)
	for _, a := range PolicyActions {
		m.PolicyWouldReject.WithLabelValues(a)
		m.PolicyRejected.WithLabelValues(a)
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	register := func(c prometheus.Collector) prometheus.Collector {
		c, err := RegisterShared(reg, c)
		if err != nil {
			errs = append(errs, err)
		}
		return c
	}
	m.Commands = register(m.Commands).(*prometheus.CounterVec)
	m.Conflicts = register(m.Conflicts).(prometheus.Counter)
	m.Duplicates = register(m.Duplicates).(prometheus.Counter)
	m.DeadLettered = register(m.DeadLettered).(*prometheus.CounterVec)
	m.SnapshotsTaken = register(m.SnapshotsTaken).(prometheus.Counter)
	m.SnapshotsFailed = register(m.SnapshotsFailed).(prometheus.Counter)
	m.SnapshotsUnusable = register(m.SnapshotsUnusable).(prometheus.Counter)
	m.ProjectionLag = register(m.ProjectionLag).(prometheus.Histogram)
	m.EventsApplied = register(m.EventsApplied).(prometheus.Counter)
	m.TimersScheduled = register(m.TimersScheduled).(prometheus.Counter)
	m.TimersResent = register(m.TimersResent).(prometheus.Counter)
	m.TimersFired = register(m.TimersFired).(prometheus.Counter)
	m.PolicyWouldReject = register(m.PolicyWouldReject).(*prometheus.CounterVec)
	m.PolicyRejected = register(m.PolicyRejected).(*prometheus.CounterVec)
	if len(errs) > 0 {
		return nil, fmt.Errorf("handlers: register metrics: %w", errors.Join(errs...))
	}
	return m, nil
}

// metricsOr returns m, or unregistered metrics when m is nil.
func metricsOr(m *Metrics) (*Metrics, error) {
	if m != nil {
		return m, nil
	}
	return NewMetrics(nil)
}

// RegisterShared registers c with reg and returns it, or the collector of the same
// description registered before (workers sharing a registry share their metrics).
func RegisterShared(reg prometheus.Registerer, c prometheus.Collector) (prometheus.Collector, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector, nil
		}
		return c, err
	}
	return c, nil
}
