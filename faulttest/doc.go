// Package faulttest is buildledger's fault suite: it runs the worker under the failures it
// must ride out — injected AWS errors and lost responses, a worker killed with SIGKILL, a
// DynamoDB restart, hostile command messages and damaged snapshots — and checks that every
// command still takes effect exactly once and that the read models equal a full replay.
//
// The tests run against the local emulators (`make up`), each under a name prefix of its own.
package faulttest
