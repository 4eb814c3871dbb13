//go:build race

package e2e

// raceEnabled builds the binary under test with the race detector when the tests themselves
// run with it, so that a data race in the worker fails the test that provoked it.
const raceEnabled = true
