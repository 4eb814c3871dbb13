package domain

import (
	"testing"

	"github.com/google/uuid"
)

const deployStream = "job:deploy-prod/3f2a9c1"

func jobStarted(user string, id uuid.UUID) JobStarted {
	return JobStarted{Jobname: "deploy-prod", User: user, Version: "3f2a9c1", RunID: id, At: t0}
}

func jobEnded(id uuid.UUID, skipped bool) JobEnded {
	return JobEnded{Jobname: "deploy-prod", Version: "3f2a9c1", RunID: id, Skipped: skipped, At: t0}
}

func TestJobRules(t *testing.T) {
	run1 := uuid.MustParse("bbbbbbbb-0000-4000-8000-000000000001")
	start := StartJob{Jobname: "deploy-prod", User: "alice@example.com", Version: "3f2a9c1"}
	end := EndJob{Jobname: "deploy-prod", Version: "3f2a9c1"}
	running := []Event{jobStarted("alice@example.com", run1)}
	runScenarios(t, deployStream, []scenario{
		{
			name: "given no run when StartJob then a run starts",
			when: start,
			then: []Event{jobStarted("alice@example.com", rid(1))},
			check: func(t *testing.T, a Aggregate) {
				j := a.(*Job)
				if id, ok := j.RunID(); !j.Running() || !ok || id != rid(1) || j.Jobname() != "deploy-prod" || j.GitVersion() != "3f2a9c1" {
					t.Errorf("running %v id %s", j.Running(), id)
				}
			},
		},
		{
			name:    "given a running run when StartJob then it is rejected",
			given:   running,
			when:    StartJob{Jobname: "deploy-prod", User: "bob", Version: "3f2a9c1"},
			thenErr: &JobRunningError{Jobname: "deploy-prod", Version: "3f2a9c1", RunID: run1},
			thenMsg: "domain: job deploy-prod at version 3f2a9c1 is already running (run " + run1.String() + ")",
		},
		{
			name:  "given a running run when EndJob then the run ends",
			given: running,
			when:  end,
			then:  []Event{jobEnded(run1, false)},
			check: func(t *testing.T, a Aggregate) {
				if _, ok := a.(*Job).RunID(); ok {
					t.Error("still running")
				}
			},
		},
		{
			name:  "given a running run when EndJob skipped then the run ends skipped",
			given: running,
			when:  EndJob{Jobname: "deploy-prod", Version: "3f2a9c1", Skipped: true},
			then:  []Event{jobEnded(run1, true)},
		},
		{
			name:  "given a running run when EndJob by carol then the end records carol",
			given: running,
			when:  EndJob{Jobname: "deploy-prod", Version: "3f2a9c1", User: "carol"},
			then: []Event{func() Event {
				e := jobEnded(run1, false)
				e.EndedBy = "carol"
				return e
			}()},
		},
		{
			name:    "given no run when EndJob then it is rejected",
			when:    end,
			thenErr: &NoRunningJobError{Jobname: "deploy-prod", Version: "3f2a9c1"},
			thenMsg: "domain: job deploy-prod at version 3f2a9c1 is not running",
		},
		{
			name:    "given an ended run when EndJob then it is rejected",
			given:   []Event{jobStarted("alice@example.com", run1), jobEnded(run1, false)},
			when:    end,
			thenErr: &NoRunningJobError{Jobname: "deploy-prod", Version: "3f2a9c1"},
		},
		{
			name:  "given an ended run when StartJob then a new run starts",
			given: []Event{jobStarted("alice@example.com", run1), jobEnded(run1, true)},
			when:  StartJob{Jobname: "deploy-prod", User: "bob", Version: "3f2a9c1"},
			then:  []Event{jobStarted("bob", rid(1))},
		},
		{
			name:    "when StartJob has no jobname then it is invalid",
			when:    StartJob{User: "alice", Version: "3f2a9c1"},
			thenErr: invalid("StartJob", "jobname", "must not be empty"),
		},
		{
			name:    "when StartJob has no user then it is invalid",
			when:    StartJob{Jobname: "deploy-prod", Version: "3f2a9c1"},
			thenErr: invalid("StartJob", "user", "must not be empty"),
		},
		{
			name:    "when StartJob has a version with a slash then it is invalid",
			when:    StartJob{Jobname: "deploy-prod", User: "alice", Version: "release/1"},
			thenErr: invalid("StartJob", "version", `must not contain "/"`),
		},
		{
			name:    "when EndJob has no version then it is invalid",
			when:    EndJob{Jobname: "deploy-prod"},
			thenErr: invalid("EndJob", "version", "must not be empty"),
		},
		{
			name:    "when EndJob has a jobname with a slash then it is invalid",
			when:    EndJob{Jobname: "deploy/prod", Version: "3f2a9c1"},
			thenErr: invalid("EndJob", "jobname", `must not contain "/"`),
		},
		{
			name:    "when a job of another version is handled then it is a wrong stream",
			when:    EndJob{Jobname: "deploy-prod", Version: "beef"},
			thenErr: &WrongStreamError{Command: "EndJob", Target: "job:deploy-prod/beef", Stream: deployStream},
		},
	})
}
