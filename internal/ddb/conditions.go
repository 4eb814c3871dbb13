package ddb

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Failure is what a failed conditional write says: which items' conditions failed and
// whether the transaction collided with another one.
type Failure struct {
	// Failed are the indexes of the items whose condition failed: 0 for a single write,
	// the item's place in the transaction otherwise.
	Failed []int
	// Conflict is true when a transaction was cancelled because another one touched the
	// same items at the same time.
	Conflict bool
}

// Any reports whether some condition failed or the transaction collided: for many
// callers both mean "someone else wrote first; read again".
func (f Failure) Any() bool { return len(f.Failed) > 0 || f.Conflict }

// ConditionFailure reads err the same way for a single write (ConditionalCheckFailed) and
// a cancelled transaction (its cancellation reasons); ok is false for any other error.
func ConditionFailure(err error) (f Failure, ok bool) {
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return Failure{Failed: []int{0}}, true
	}
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		for i, r := range canceled.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				f.Failed = append(f.Failed, i)
			case "TransactionConflict":
				f.Conflict = true
			}
		}
		return f, f.Any()
	}
	var conflict *types.TransactionConflictException
	if errors.As(err, &conflict) {
		return Failure{Conflict: true}, true
	}
	return Failure{}, false
}
