// Package handlers is the worker of buildledger: it consumes the commands FIFO queue,
// decides each command against its aggregate, appends the events together with the
// command's outcome, publishes them to the events topic, and feeds the projector queue to
// the read side. It also provisions and resolves the queues and topic it uses.
//
// The pieces, each usable alone:
//
//   - DecodeEnvelope reads a command message: a JSON object with "type", an optional "id"
//     (the idempotency key; the SQS message id stands in when absent), optional
//     "metadata" ({"correlationId": …}) and the command's own fields at the top level.
//   - CommandHandler is the command use case, independent of any transport: every command
//     takes effect once, duplicates only re-publish, rejections are stored with their
//     reason, undecodable messages are stored as invalid and marked for the dead-letter
//     queue (*DeadLetterError), everything else is transient and safe to retry.
//   - Projector hands published event records to an EventApplier (the read side).
//   - Worker wires both to SQS and SNS through watermill routers, with Recoverer,
//     CorrelationID, PoisonQueue and Retry middleware and Prometheus metrics;
//     NewHTTPServer serves its /healthz and /metrics.
//
// Delivery is at least once everywhere; exactly-once effects come from the command
// outcome written in the same transaction as the events, and from idempotent projections.
package handlers
