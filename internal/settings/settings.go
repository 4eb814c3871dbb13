// Package settings fills in the defaults of a configuration and reports every problem that
// remains, written once for the Config structs of the adapters, handlers and workers
// (standard library only). A Config's setDefaults is a list of Default calls; its Validate
// collects its Problems and returns Err, so that every problem is reported at once, worded
// the same way in every package.
package settings

import (
	"errors"
	"fmt"
)

// Number is the kind of field the range checks and DefaultUnlessPositive read: counts,
// sizes and durations.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~float32 | ~float64
}

// Default sets a field left at its zero value to value.
func Default[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

// DefaultFunc sets a nil function field, such as a clock or an id source, to value.
func DefaultFunc[T any](field *func() T, value func() T) {
	if *field == nil {
		*field = value
	}
}

// DefaultUnlessPositive sets a field that is zero or negative to value, for settings where
// a negative value means nothing either.
func DefaultUnlessPositive[T Number](field *T, value T) {
	if *field <= 0 {
		*field = value
	}
}

// Problems collects what is wrong with a configuration. The zero value is not usable: make
// one with Prefixed or Wrapped, which decide how the problems are named.
type Problems struct {
	prefix string
	wrap   bool
	errs   []error
}

// Prefixed returns Problems whose every problem starts with prefix and ": " (nothing when
// prefix is empty), e.g. "feed: config: Events is nil"; Err joins them.
func Prefixed(prefix string) *Problems { return &Problems{prefix: prefix} }

// Wrapped returns Problems that are joined and then wrapped once by prefix and ": ", e.g.
// "handlers: worker config: " and the problems on lines of their own.
func Wrapped(prefix string) *Problems { return &Problems{prefix: prefix, wrap: true} }

// If records the problem format and args describe (as fmt.Sprintf would) when bad is true.
func (p *Problems) If(bad bool, format string, args ...any) {
	if !bad {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if p.prefix != "" && !p.wrap {
		msg = p.prefix + ": " + msg
	}
	p.errs = append(p.errs, errors.New(msg))
}

// Add records errs as they are, the nil ones left out: the problems of a nested
// configuration, which name themselves.
func (p *Problems) Add(errs ...error) {
	for _, err := range errs {
		if err != nil {
			p.errs = append(p.errs, err)
		}
	}
}

// Err returns every problem recorded, joined with errors.Join (and wrapped, for Wrapped
// Problems), or nil when there is none.
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	if p.wrap {
		return fmt.Errorf("%s: %w", p.prefix, errors.Join(p.errs...))
	}
	return errors.Join(p.errs...)
}

// AtLeast records "name v is below least" when v is.
func AtLeast[T Number](p *Problems, name string, v, least T) {
	p.If(v < least, "%s %v is below %v", name, v, least)
}

// Within records "name v is outside low..high" when v is.
func Within[T Number](p *Problems, name string, v, low, high T) {
	p.If(v < low || v > high, "%s %v is outside %v..%v", name, v, low, high)
}

// Positive records "name v is not positive" when v is zero or negative.
func Positive[T Number](p *Problems, name string, v T) {
	p.If(v <= 0, "%s %v is not positive", name, v)
}

// NotNegative records "name v is negative" when v is.
func NotNegative[T Number](p *Problems, name string, v T) {
	p.If(v < 0, "%s %v is negative", name, v)
}
