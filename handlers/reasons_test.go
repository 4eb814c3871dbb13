package handlers_test

import (
	"context"
	"strings"
	"testing"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/handlers"
)

func TestCommandHandler_GivenRuleRejection_ThenStoredReasonIsForPeopleWithoutPackagePrefix(t *testing.T) {
	f := newFixture(t)
	res, err := f.handle(t, "end-1", domain.EndJob{Jobname: "deploy", Version: "abc"})
	const want = "job deploy at version abc is not running"
	if err != nil || res.Outcome.Reason != want {
		t.Fatalf("outcome %+v, %v; want reason %q", res.Outcome, err, want)
	}
	stored, err := f.events.Outcome(context.Background(), "end-1")
	if err != nil || stored.Reason != want {
		t.Errorf("stored outcome %+v, %v; want reason %q", stored, err, want)
	}
}

func TestCommandHandler_GivenInvalidCommand_ThenStoredReasonIsForPeopleWithoutPackagePrefix(t *testing.T) {
	f := newFixture(t)
	_, err := f.handler.Handle(context.Background(), handlers.Envelope{Body: []byte(`{"type":"Lock","id":"m1","env":"prod","user":""}`)})
	if !handlers.IsDeadLetter(err) {
		t.Fatalf("error = %v, want a dead letter", err)
	}
	stored, err := f.events.Outcome(context.Background(), "m1")
	if err != nil || stored.Status != eventstore.OutcomeInvalid || strings.Contains(stored.Reason, "domain: ") || !strings.HasPrefix(stored.Reason, "invalid command: Lock: user: ") {
		t.Errorf("stored outcome %+v, %v; want invalid, its reason without the package prefix", stored, err)
	}
}
