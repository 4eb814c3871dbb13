// Package ddb is DynamoDB plumbing written once for every adapter: creating a table and
// waiting for it, recognising a failed condition in a plain write or a cancelled
// transaction, jittered backoff, and bounded parallelism.
package ddb
