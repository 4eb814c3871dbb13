package domain

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// t0 is the time of every decision in table tests.
var t0 = time.Date(2024, 5, 1, 12, 30, 0, 123456789, time.UTC)

// rid returns the n-th random id a test env hands out.
func rid(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", n)) }

// tid returns the n-th time-ordered id a test env hands out.
func tid(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-1000-8000-%012d", n)) }

// testEnv hands out rid(1), rid(2), … and tid(1), tid(2), … at t0.
func testEnv() Env {
	var r, tm int
	return Env{
		Now:       t0,
		NewID:     func() uuid.UUID { r++; return rid(r) },
		NewTimeID: func() uuid.UUID { tm++; return tid(tm) },
	}
}

// scenario is one given/when/then case: the stream's history, a command, and either the
// events it raises or the error it fails with.
type scenario struct {
	name   string
	stream string // defaults to the table's stream
	given  []Event
	when   Command
	env    *Env // defaults to testEnv()
	then   []Event
	// thenErr is the typed error expected somewhere in the error's chain, compared deeply.
	thenErr error
	// thenIs is a sentinel the error must match.
	thenIs error
	// thenMsg is the exact error message, when it matters.
	thenMsg string
	// check inspects the aggregate after the new events are applied.
	check func(t *testing.T, a Aggregate)
}

func runScenarios(t *testing.T, stream string, cases []scenario) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := stream
			if tc.stream != "" {
				id = tc.stream
			}
			a, err := Rehydrate(id, tc.given)
			if err != nil {
				t.Fatalf("given: %v", err)
			}
			before, _ := a.MarshalState()
			env := testEnv()
			if tc.env != nil {
				env = *tc.env
			}
			got, err := a.Handle(tc.when, env)
			after, _ := a.MarshalState()
			if !bytes.Equal(before, after) || a.Version() != int64(len(tc.given)) {
				t.Fatalf("Handle changed the state:\n%s\n%s", before, after)
			}
			wantErr := tc.thenErr != nil || tc.thenIs != nil || tc.thenMsg != ""
			if !wantErr {
				if err != nil {
					t.Fatalf("then: unexpected error %v", err)
				}
				if !reflect.DeepEqual(got, tc.then) {
					t.Fatalf("then events\n got: %#v\nwant: %#v", got, tc.then)
				}
				for _, e := range got {
					a.Apply(e)
				}
				if tc.check != nil {
					tc.check(t, a)
				}
				return
			}
			if err == nil {
				t.Fatalf("then: want an error, got events %#v", got)
			}
			if got != nil {
				t.Errorf("then: events %#v returned with error", got)
			}
			if tc.thenIs != nil && !errors.Is(err, tc.thenIs) {
				t.Errorf("then: error %q is not %q", err, tc.thenIs)
			}
			if tc.thenErr != nil {
				matchTyped(t, err, tc.thenErr)
			}
			if tc.thenMsg != "" && err.Error() != tc.thenMsg {
				t.Errorf("then: message\n got: %q\nwant: %q", err.Error(), tc.thenMsg)
			}
		})
	}
}

// matchTyped checks that err's chain holds an error of want's type equal to want, and that
// rejections and validation failures match their sentinel.
func matchTyped(t *testing.T, err, want error) {
	t.Helper()
	target := reflect.New(reflect.TypeOf(want))
	if !errors.As(err, target.Interface()) {
		t.Errorf("then: error %q (%T) holds no %T", err, err, want)
		return
	}
	if got := target.Elem().Interface(); !reflect.DeepEqual(got, want) {
		t.Errorf("then: error\n got: %#v\nwant: %#v", got, want)
	}
	for _, sentinel := range []error{ErrRejected, ErrInvalidCommand} {
		if errors.Is(want, sentinel) && !errors.Is(err, sentinel) {
			t.Errorf("then: error %q is not %q", err, sentinel)
		}
	}
}

// stateOf returns a as the aggregate type T, and fails the test when it is another.
func stateOf[T Aggregate](t *testing.T, a Aggregate) T {
	t.Helper()
	s, ok := a.(T)
	if !ok {
		var want T
		t.Fatalf("aggregate is %T, want %T", a, want)
	}
	return s
}

// invalid is the validation error of one field.
func invalid(command, field, reason string) error {
	return &InvalidCommandError{Command: command, Field: field, Reason: reason}
}

// wantInvalid checks that err, what Validate returned, is exactly the problem reason with
// field of command, or nil when reason is "".
func wantInvalid(t *testing.T, err error, command, field, reason string) {
	t.Helper()
	if reason == "" {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	want := invalid(command, field, reason)
	if err == nil || err.Error() != want.Error() {
		t.Fatalf("Validate() = %v\nwant %v", err, want)
	}
}

func envWith(f func(*Env)) *Env {
	e := testEnv()
	f(&e)
	return &e
}
