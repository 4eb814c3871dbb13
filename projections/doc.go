// Package projections is the read side of buildledger: it turns the events of the event
// store into the read models people and tools query — dynostore's repos and builds,
// warehouse.ai's statuses, status heads, status events and status counters, Da-Playa's locks
// and jobs — and answers queries on them.
//
// Four projections each own their tables: builds (repos, builds), statuses (statuses,
// status_heads, status_events, status_counters), locks (locks) and jobs (jobs). A projection
// is a pure function of the rows an event reads and the event itself: it names the keys it
// needs, the store loads them, and it returns the rows to write. Live application (Projector)
// and replay (Replayer) run the same functions, so their results are the same.
//
// Every applied event advances its stream's position, written in the same transaction as the
// rows it changed and conditioned on the position it read: an event is applied once, never
// twice and never out of order; an event after a gap first fills the gap from the event store.
//
// The tables come in generations. Readers and the live projector find the current generation
// of each projection through a pointer item (see GenerationCacheTTL); a full or
// single-projection replay builds a fresh generation and switches readers over only once it
// is complete, so queries never see a half-built model.
//
// The read store is a port (Store) with an in-memory adapter (projections/memory) and a
// DynamoDB adapter (projections/dynamo); both pass projections/projectionstest.
package projections
