package handlers

import "fmt"

// ClockCheck tells whether this worker's clock may be trusted to decide: the events it
// appends are keyed by its clock, and readers of the global feed tolerate only a bounded
// skew between workers (see internal/clockcheck, whose Check is one).
type ClockCheck interface {
	// Admit returns nil when the clock is within the tolerance, otherwise why not.
	Admit() error
}

// admitClock refuses to decide while the clock is off. The error is transient: nothing is
// written, and the message is retried and then left to SQS to deliver again, to this
// worker once its clock is right or to another.
func (h *CommandHandler) admitClock() error {
	if h.cfg.ClockCheck == nil {
		return nil
	}
	if err := h.cfg.ClockCheck.Admit(); err != nil {
		return fmt.Errorf("handlers: not deciding: %w", err)
	}
	return nil
}
