package dynamo

import (
	"fmt"

	"buildledger/eventstore"
	"buildledger/internal/ddb"
)

// itemRole says what a conditional write stands for, so that a failed condition can be
// told apart: a taken version slot, a missing expected version, a used command id.
type itemRole int

const (
	roleEvent         itemRole = iota // Put of an event: its version slot was taken
	roleExpectedCheck                 // ConditionCheck that the expected version exists
	roleOutcome                       // Put of the command outcome: the id was used
	roleAlso                          // a write carried along (AppendWith): its condition failed
)

// writeTarget names what a write was about, for the errors it may turn into.
type writeTarget struct {
	stream          string
	expectedVersion int64
	commandID       string
}

// translateWriteError turns a failed conditional write into the port's errors. roles[i]
// describes the i-th item of a transaction; a single-item write passes one role. A used
// command id wins over everything else, since retrying a command that already took effect
// must not look like a conflict; a failed event or expected-version condition, or another
// transaction touching the same items (TransactionConflict), is a version conflict. Any other
// error is wrapped as it is.
func translateWriteError(err error, op string, roles []itemRole, t writeTarget) error {
	if err == nil {
		return nil
	}
	duplicate, conflict, also := false, false, false
	if f, ok := ddb.ConditionFailure(err); ok {
		for _, i := range f.Failed {
			switch {
			case i < len(roles) && roles[i] == roleOutcome:
				duplicate = true
			case i < len(roles) && roles[i] == roleAlso:
				also = true
			default:
				conflict = true
			}
		}
		conflict = conflict || f.Conflict
	}
	switch {
	case duplicate:
		return &eventstore.DuplicateCommandError{CommandID: t.commandID}
	case conflict:
		return &eventstore.ConflictError{Stream: t.stream, ExpectedVersion: t.expectedVersion}
	case also:
		return fmt.Errorf("%w: %s", ErrAlsoRefused, op)
	}
	return fmt.Errorf("eventstore/dynamo: %s: %w", op, err)
}
