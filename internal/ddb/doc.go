// Package ddb is DynamoDB plumbing written once for every adapter: creating a table and
// waiting for it, recognising a failed condition in a plain write or a cancelled
// transaction, and bounded parallelism (backoff is internal/backoff).
package ddb
