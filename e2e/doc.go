// Package e2e holds the end-to-end tests of the buildledger binary: each test builds its own
// installation on the local emulators (a unique prefix and `buildledger init`), runs
// `buildledger worker` as a separate process, and drives it the way CI systems and people
// do, through the SQS commands queue and the command line.
//
// Run them with the emulators up:
//
//	scripts/localstack.sh up && eval "$(scripts/localstack.sh env)"
//	go test -race ./e2e/
//
// Set BUILDLEDGER_WRITE_SESSION=1 to also record testdata/session.txt, a short real session
// for the README.
package e2e
