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
// DynamoDB adapter (projections/dynamo); both pass projections/projectionstest. Rows are
// encoded by one codec read from their types' `row` tags (codec.go), which also name the
// tables' keys (schema.go).
//
// Files: projection.go (what a projection is, and the registry), one file per projection
// (builds.go, statuses.go, locks.go, jobs.go: the rows each needs, projects and owns, and
// their row types), apply.go and positions.go (the guarded live path, gap filling),
// projector.go, queries.go, and the replay: replay.go (configuration and scope), lease.go,
// switch.go (generations, switch and catch-up), scan.go and replayworker.go (the parallel
// rebuild), progress.go, rebuildstream.go (the fenced single-stream rebuild). Replays read
// the event store through EventScanner, which eventstore/dynamo and eventstore/memory
// implement. locklog.go and lockhistory.go answer, from a lock stream's events rather than
// from read tables, what rows cannot: who held a lock at a time, its history, its queue
// and its freeze schedules (LockLog).
package projections
