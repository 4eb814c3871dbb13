// Package eventstoretest is the conformance suite every eventstore.Store must pass: the
// in-memory store and the DynamoDB adapter run the same tests, so that what holds for one
// holds for the other.
package eventstoretest

import (
	"testing"

	"buildledger/eventstore"
)

// Run runs the conformance suite. newStore must return an empty store that no other test
// uses; subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) eventstore.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, st eventstore.Store)
	}{
		{"given appended events when loaded then every envelope field round-trips", testRoundTrip},
		{"given a stream when ranges and versions are read then they match", testLoadRangeAndVersion},
		{"given no events when appended then only the outcome is stored", testAppendNoEvents},
		{"given 20 concurrent appenders on one stream then versions are contiguous with one winner each", testConcurrentAppenders},
		{"given a used command id when appended again then duplicate and nothing written", testDuplicateCommand},
		{"given a stale or future expected version when appended then conflict and nothing written", testExpectedVersionConflicts},
		{"given 99 events when appended after the start then the expected version is still checked", testFullAppend},
		{"given a stream over 1 MB when loaded then it loads whole and in order", testLargeStream},
		{"given several streams and puts when read all in pages then time order and every event once", testReadAll},
		{"given 24 streams interleaved when read all in pages of every size then each event once in key order", testReadAllManyStreams},
		{"given 200 concurrent puts then keys are unique, in the seed format, and bodies read back", testConcurrentPuts},
		{"given over-limit or invalid input when appended or put then a clear error and nothing written", testLimits},
		{"given recorded outcomes when read then they round-trip and unknown ids are not found", testOutcomes},
		{"given commands with and without a sender when appended or recorded then sender and identity round-trip", testSenders},
		{"given streams and puts when scanned in segments then every event once, each stream in one segment in order", testScanSegments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newStore(t))
		})
	}
}
