package eventstore

import "fmt"

// MaxAppendBytes is the most one Append may write in all, its items' sizes added up: the
// limit of one DynamoDB transaction (4 MB).
const MaxAppendBytes = 4 * 1024 * 1024

// ErrAppendTooLarge means one Append's items together exceed MaxAppendBytes. It also
// matches ErrItemTooLarge, so that code treating oversized input as invalid needs no new case.
var ErrAppendTooLarge error = &nestedError{msg: "eventstore: append too large", parent: ErrItemTooLarge}

type nestedError struct {
	msg    string
	parent error
}

func (e *nestedError) Error() string { return e.msg }
func (e *nestedError) Unwrap() error { return e.parent }

// Every store measures its items its own way (the DynamoDB adapter counts attribute names
// and values, see eventstore/dynamo/layout) and checks the sizes with the functions below,
// so that the limits and their errors are the same for all.

// CheckAppendSize checks what one Append would store: each record, whose stored size is
// the element of sizes at the same index, and the outcome, of outcomeSize bytes, within
// MaxItemBytes (else ErrItemTooLarge), and all of them together within MaxAppendBytes (else
// ErrAppendTooLarge).
func CheckAppendSize(records []Record, sizes []int, out Outcome, outcomeSize int) error {
	total := outcomeSize
	for i, r := range records {
		if sizes[i] > MaxItemBytes {
			return fmt.Errorf("%w: event %d (%s) of %s would be %d bytes, at most %d", ErrItemTooLarge, i, r.Type, r.Stream, sizes[i], MaxItemBytes)
		}
		total += sizes[i]
	}
	if err := CheckOutcomeSize(out, outcomeSize); err != nil {
		return err
	}
	if total > MaxAppendBytes {
		return fmt.Errorf("%w: %d events of %s would be %d bytes in all, at most %d", ErrAppendTooLarge, len(records), out.Stream, total, MaxAppendBytes)
	}
	return nil
}

// CheckOutcomeSize returns ErrItemTooLarge when the outcome o, stored in size bytes,
// exceeds MaxItemBytes.
func CheckOutcomeSize(o Outcome, size int) error {
	if size > MaxItemBytes {
		return fmt.Errorf("%w: outcome of %s would be %d bytes, at most %d", ErrItemTooLarge, o.CommandID, size, MaxItemBytes)
	}
	return nil
}

// CheckPutSize returns ErrItemTooLarge when a Put event stored in size bytes exceeds
// MaxItemBytes.
func CheckPutSize(size int) error {
	if size > MaxItemBytes {
		return fmt.Errorf("%w: put event would be %d bytes, at most %d", ErrItemTooLarge, size, MaxItemBytes)
	}
	return nil
}
