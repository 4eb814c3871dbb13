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
	r := &registrar{reg: reg}
	m := &Metrics{
		Commands:          counterVec(r, "commands_processed_total", "Command messages processed, by outcome.", "outcome"),
		Conflicts:         counter(r, "command_conflicts_retried_total", "Appends that lost a race with another writer and were decided again."),
		Duplicates:        counter(r, "command_duplicates_total", "Deliveries of a command id that already had an outcome."),
		DeadLettered:      counterVec(r, "messages_dead_lettered_total", "Messages sent to a dead-letter queue, by queue and reason.", "queue", "reason"),
		SnapshotsTaken:    counter(r, "snapshots_taken_total", "Aggregate snapshots stored."),
		SnapshotsFailed:   counter(r, "snapshots_failed_total", "Aggregate snapshots that could not be taken or stored."),
		SnapshotsUnusable: counter(r, "snapshots_unusable_total", "Stored snapshots ignored on load because of another schema or undecodable state."),
		ProjectionLag: register(r, prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "projection_lag_seconds",
			Help:    "Time from an event being recorded to it being applied to the read side.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		})),
		EventsApplied:     counter(r, "projection_events_applied_total", "Events applied to the read side."),
		TimersScheduled:   counter(r, "lease_timers_scheduled_total", "Lease timers sent to the timers queue for committed events."),
		TimersResent:      counter(r, "lease_timers_resent_total", "Lease timers that arrived before they were due and were sent again."),
		TimersFired:       counter(r, "lease_timers_fired_total", "Lease timers that were due and had their lock settled."),
		PolicyWouldReject: counterVec(r, "policy_would_reject_total", "Commands the access policy, in audit mode, would have rejected in enforce mode, by action.", "action"),
		PolicyRejected:    counterVec(r, "policy_rejected_total", "Commands the enforced access policy rejected (code forbidden), by action.", "action"),
	}
	if len(r.errs) > 0 {
		return nil, fmt.Errorf("handlers: register metrics: %w", errors.Join(r.errs...))
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
	return m, nil
}

// metricsNamespace prefixes the name of every metric of the worker.
const metricsNamespace = "buildledger"

// registrar registers the collectors NewMetrics creates with reg (none when reg is nil)
// and keeps the errors.
type registrar struct {
	reg  prometheus.Registerer
	errs []error
}

// register registers c (see RegisterShared) and returns the collector to use: c, or the
// one of the same description registered before.
func register[C prometheus.Collector](r *registrar, c C) C {
	if r.reg == nil {
		return c
	}
	got, err := RegisterShared(r.reg, c)
	if err != nil {
		r.errs = append(r.errs, err)
		return c
	}
	return got.(C)
}

// counter registers and returns the counter buildledger_<name>.
func counter(r *registrar, name, help string) prometheus.Counter {
	return register(r, prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}))
}

// counterVec registers and returns the counter buildledger_<name> with labels.
func counterVec(r *registrar, name, help string, labels ...string) *prometheus.CounterVec {
	return register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels))
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
