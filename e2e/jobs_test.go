package e2e

import (
	"strings"
	"testing"
	"time"

	"buildledger/projections"
)

// jobIDs returns the ids of runs, in order.
func jobIDs(rows []projections.Job) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// jobs runs a jobs command line that prints runs (get, active, skipped, end) and returns them.
func (in *installation) jobs(t *testing.T, args ...string) []projections.Job {
	t.Helper()
	var rows []projections.Job
	in.okJSON(t, &rows, append([]string{"jobs"}, args...)...)
	return rows
}

func TestJobs(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-jobs")
	in.startWorker(t)
	var run projections.Job // the run of deploy-prod at 3f2c1ab the steps follow
	began := time.Now()
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"given no job runs, when alice starts deploy-prod at 3f2c1ab, then the running job is printed", func(t *testing.T) {
			in.okJSON(t, &run, "jobs", "start", "--jobname", "deploy-prod", "--user", "alice", "--gitversion", "3f2c1ab")
			started := time.UnixMilli(run.Started)
			if run.ID == "" || run.Jobname != "deploy-prod" || run.Version != "3f2c1ab" || run.User != "alice" || run.Ended != nil || run.Skipped ||
				started.Before(began.Add(-time.Minute)) || started.After(time.Now().Add(time.Minute)) {
				t.Fatalf("jobs start printed %+v", run)
			}
		}},
		{"when bob starts it again at the same version, then he is refused with exit 1", func(t *testing.T) {
			stderr := in.fails(t, 1, "jobs", "start", "--jobname", "deploy-prod", "--user", "bob", "--gitversion", "3f2c1ab")
			if !strings.Contains(stderr, "job deploy-prod at version 3f2c1ab is already running") {
				t.Errorf("stderr %q does not give the reason", stderr)
			}
		}},
		{"when jobs get asks for it, then it shows the one run", func(t *testing.T) {
			rows := in.jobs(t, "get", "--jobname", "deploy-prod", "--gitversion", "3f2c1ab")
			if len(rows) != 1 || rows[0] != run {
				t.Errorf("jobs get: %+v, want [%+v]", rows, run)
			}
		}},
		{"when jobs active looks back 1h, then it shows the run", func(t *testing.T) {
			rows := in.jobs(t, "active", "--jobname", "deploy-prod", "--ttl", "1h")
			if ids := jobIDs(rows); len(ids) != 1 || ids[0] != run.ID {
				t.Errorf("jobs active: %+v, want the run %s", rows, run.ID)
			}
		}},
		{"when the version ends as skipped, then the ended run is printed", func(t *testing.T) {
			rows := in.jobs(t, "end", "--gitversion", "3f2c1ab", "--skipped")
			if len(rows) != 1 || rows[0].ID != run.ID || rows[0].Ended == nil || !rows[0].Skipped || *rows[0].Ended < run.Started {
				t.Fatalf("jobs end: %+v, want the run %s ended and skipped", rows, run.ID)
			}
		}},
		{"when jobs active looks back 1h, then it no longer shows the run", func(t *testing.T) {
			rows := in.jobs(t, "active", "--jobname", "deploy-prod", "--ttl", "1h")
			if len(rows) != 0 {
				t.Errorf("jobs active: %+v, want none", rows)
			}
		}},
		{"when jobs skipped looks back 1h, then it shows the run", func(t *testing.T) {
			rows := in.jobs(t, "skipped", "--jobname", "deploy-prod", "--ttl", "1h")
			if ids := jobIDs(rows); len(ids) != 1 || ids[0] != run.ID {
				t.Errorf("jobs skipped: %+v, want the run %s", rows, run.ID)
			}
		}},
		{"when the version ends again, then it is refused with exit 1", func(t *testing.T) {
			if stderr := in.fails(t, 1, "jobs", "end", "--gitversion", "3f2c1ab"); !strings.Contains(stderr, "no job is running at version 3f2c1ab") {
				t.Errorf("stderr %q does not give the reason", stderr)
			}
		}},
		{"given deploy-stage and smoke run at 9d8e7f6, when jobs active looks back 1ms a moment later, then it shows nothing", func(t *testing.T) {
			in.ok(t, "jobs", "start", "--jobname", "deploy-stage", "--user", "alice", "--gitversion", "9d8e7f6")
			in.ok(t, "jobs", "start", "--jobname", "smoke", "--user", "alice", "--gitversion", "9d8e7f6")
			rows := in.jobs(t, "active", "--jobname", "deploy-stage", "--ttl", "1h")
			if len(rows) != 1 || rows[0].Version != "9d8e7f6" {
				t.Fatalf("jobs active --ttl 1h: %+v, want the run at 9d8e7f6", rows)
			}
			time.Sleep(20 * time.Millisecond)
			rows = in.jobs(t, "active", "--jobname", "deploy-stage", "--ttl", "1ms")
			if len(rows) != 0 {
				t.Errorf("jobs active --ttl 1ms: %+v, want none", rows)
			}
		}},
		{"when 9d8e7f6 ends, then the runs of both jobs end, not skipped", func(t *testing.T) {
			rows := in.jobs(t, "end", "--gitversion", "9d8e7f6", "--user", "carol@example.com")
			names := map[string]bool{}
			for _, r := range rows {
				names[r.Jobname] = true
				if r.Ended == nil || r.Skipped || r.EndedBy != "carol@example.com" {
					t.Errorf("jobs end printed %+v, want it ended by carol and not skipped", r)
				}
			}
			if len(rows) != 2 || !names["deploy-stage"] || !names["smoke"] {
				t.Errorf("jobs end: %+v, want the runs of deploy-stage and smoke", rows)
			}
			rows = in.jobs(t, "skipped", "--jobname", "deploy-stage", "--ttl", "1h")
			if len(rows) != 0 {
				t.Errorf("jobs skipped: %+v, want none", rows)
			}
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return
		}
	}
}
