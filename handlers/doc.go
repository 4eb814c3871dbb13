// Package handlers is the worker of buildledger: it consumes the commands FIFO queue,
// decides each command against its aggregate, appends the events together with the
// command's outcome, publishes them to the events topic, and feeds the projector queue to
// the read side. It also provisions and resolves the queues and topic it uses.
//
// The pieces, each usable alone:
//
//   - Aggregates is the aggregate repository: Load (cache, snapshot, then the events
//     after it) and Update (decide, append conditional on the version, decide again after
//     a lost race, snapshot now and then).
//   - CommandHandler is the command use case, independent of any transport: it decodes a
//     message (package envelope), updates the aggregate and records the outcome. Every
//     command takes effect once, duplicates only re-publish, rejections are stored with
//     their reason and code, undecodable messages are stored as invalid and marked for the
//     dead-letter queue (*DeadLetterError), everything else is transient and safe to retry.
//   - ProjectorHandler hands published event records to an EventApplier (the read side).
//   - TimerHandler fires lease timers: the worker schedules one on the timers queue for
//     every committed lease end, delayed by SQS itself (so that it survives any worker),
//     and when it is due, the lock is settled in process (CommandHandler.Expire).
//   - Worker wires them to SQS and SNS through a watermill router, with Recoverer,
//     CorrelationID, PoisonQueue and Retry middleware and Prometheus metrics;
//     HealthHandler serves its /healthz and /metrics.
//
// Delivery is at least once everywhere; exactly-once effects come from the command
// outcome written in the same transaction as the events, and from idempotent projections.
package handlers
