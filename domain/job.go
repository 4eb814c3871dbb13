package domain

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// jobSchema is the version of the Job snapshot state.
const jobSchema = 1

// StartJob begins a run of a job at a git version.
type StartJob struct {
	Jobname string `json:"jobname"`
	User    string `json:"user"`
	Version string `json:"version"`
}

// CommandType returns "StartJob".
func (StartJob) CommandType() string { return "StartJob" }

// StreamID returns the job's stream, "job:{jobname}/{version}".
func (c StartJob) StreamID() string { return JobStreamID(c.Jobname, c.Version) }

// Validate checks the job name, user and version.
func (c StartJob) Validate() error {
	p := newProblems(c.CommandType())
	p.check("jobname", nameProblem(c.Jobname, false))
	p.check("user", nameProblem(c.User, true))
	p.check("version", nameProblem(c.Version, false))
	return p.err()
}

// EndJob ends the running run of a job at a git version; Skipped marks it as skipped.
// User, when given, is recorded as who ended it (Da-Playa's end carried no user, so it
// stays optional).
type EndJob struct {
	Jobname string `json:"jobname"`
	Version string `json:"version"`
	Skipped bool   `json:"skipped"`
	User    string `json:"user,omitempty"`
}

// CommandType returns "EndJob".
func (EndJob) CommandType() string { return "EndJob" }

// StreamID returns the job's stream, "job:{jobname}/{version}".
func (c EndJob) StreamID() string { return JobStreamID(c.Jobname, c.Version) }

// Validate checks the job name and version.
func (c EndJob) Validate() error {
	p := newProblems(c.CommandType())
	p.check("jobname", nameProblem(c.Jobname, false))
	p.check("version", nameProblem(c.Version, false))
	p.check("user", optionalNameProblem(c.User))
	return p.err()
}

// JobStarted records the start of a run; RunID identifies the run's row.
type JobStarted struct {
	Jobname string    `json:"jobname"`
	User    string    `json:"user"`
	Version string    `json:"version"`
	RunID   uuid.UUID `json:"runId"`
	At      time.Time `json:"at"`
}

// EventType returns "JobStarted".
func (JobStarted) EventType() string { return "JobStarted" }

// JobEnded records the end of a run.
type JobEnded struct {
	Jobname string    `json:"jobname"`
	Version string    `json:"version"`
	RunID   uuid.UUID `json:"runId"`
	Skipped bool      `json:"skipped"`
	At      time.Time `json:"at"`
	// EndedBy is the user who ended the run; empty when the command named none (and in
	// events stored before it was recorded).
	EndedBy string `json:"endedBy,omitempty"`
}

// EventType returns "JobEnded".
func (JobEnded) EventType() string { return "JobEnded" }

// JobRunningError rejects starting a job while a run of it at the same version is running.
type JobRunningError struct {
	rejection
	Jobname, Version string
	// RunID is the running run.
	RunID uuid.UUID
}

// Error names the job and version.
func (e *JobRunningError) Error() string {
	return fmt.Sprintf("domain: job %s at version %s is already running (run %s)", e.Jobname, e.Version, e.RunID)
}

// NoRunningJobError rejects ending a job that has no running run at that version.
type NoRunningJobError struct {
	rejection
	Jobname, Version string
}

// Error names the job and version.
func (e *NoRunningJobError) Error() string {
	return fmt.Sprintf("domain: job %s at version %s is not running", e.Jobname, e.Version)
}

// Job is the state of the runs of one job at one git version.
type Job struct {
	stream
	jobname, gitVersion string
	running             bool
	runID               uuid.UUID
}

// Jobname returns the job's name.
func (j *Job) Jobname() string { return j.jobname }

// GitVersion returns the git version the job runs (Version is the stream's version).
func (j *Job) GitVersion() string { return j.gitVersion }

// Running reports whether a run is running.
func (j *Job) Running() bool { return j.running }

// RunID returns the running run's id, if a run is running.
func (j *Job) RunID() (uuid.UUID, bool) { return j.runID, j.running }

func (j *Job) kind() string { return KindJob }

// Handle decides StartJob and EndJob.
func (j *Job) Handle(c Command, env Env) ([]Event, error) {
	c, err := begin(j, c)
	if err != nil {
		return nil, err
	}
	switch c := c.(type) {
	case StartJob:
		return j.start(c, env)
	case EndJob:
		return j.end(c, env)
	}
	return nil, unsupported(j, c)
}

func (j *Job) start(c StartJob, env Env) ([]Event, error) {
	if j.running {
		return nil, &JobRunningError{Jobname: j.jobname, Version: j.gitVersion, RunID: j.runID}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	id, err := env.randomID()
	if err != nil {
		return nil, err
	}
	return []Event{JobStarted{Jobname: j.jobname, User: c.User, Version: j.gitVersion, RunID: id, At: at}}, nil
}

func (j *Job) end(c EndJob, env Env) ([]Event, error) {
	if !j.running {
		return nil, &NoRunningJobError{Jobname: j.jobname, Version: j.gitVersion}
	}
	at, err := env.at()
	if err != nil {
		return nil, err
	}
	return []Event{JobEnded{Jobname: j.jobname, Version: j.gitVersion, RunID: j.runID, Skipped: c.Skipped, At: at, EndedBy: c.User}}, nil
}

// Apply changes the state by one event.
func (j *Job) Apply(e Event) {
	switch e := j.next(e).(type) {
	case JobStarted:
		j.running, j.runID = true, e.RunID
	case JobEnded:
		j.running, j.runID = false, uuid.Nil
	}
}

// SnapshotSchema returns the version of the state schema.
func (j *Job) SnapshotSchema() int { return jobSchema }

type jobState struct {
	Jobname string    `json:"jobname"`
	Version string    `json:"version"`
	Running bool      `json:"running"`
	RunID   uuid.UUID `json:"runId"`
}

// MarshalState returns the state as JSON.
func (j *Job) MarshalState() ([]byte, error) {
	return jsonMarshal(jobState{Jobname: j.jobname, Version: j.gitVersion, Running: j.running, RunID: j.runID})
}

func (j *Job) restore(state []byte) error {
	var s jobState
	if err := decodeState(state, &s); err != nil {
		return err
	}
	switch {
	case s.Jobname != j.jobname || s.Version != j.gitVersion:
		return fmt.Errorf("state is of job %s at %s", s.Jobname, s.Version)
	case s.Running != (s.RunID != uuid.Nil):
		return fmt.Errorf("running is %v with run id %s", s.Running, s.RunID)
	}
	j.running, j.runID = s.Running, s.RunID
	return nil
}
