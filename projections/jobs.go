package projections

import (
	"buildledger/domain"
	"buildledger/eventstore"
)

// jobsProjection keeps Da-Playa's running jobs of job streams: one row per run id.
var jobsProjection = &projection{
	name: ProjectionJobs, kind: domain.KindJob,
	needs: jobsNeeds, project: projectJobs, owned: jobsOwned,
}

// jobsOwned: the runs of the job at the stream's git version.
func jobsOwned(parts []string) rowSet {
	return rowSet{partitions: []Query{{Table: Table{Name: TableJobs}, Partition: parts[0], Filter: map[string]any{"version": parts[1]}}}}
}

func jobRef(jobname, id string) ref { return ref{table: TableJobs, partition: jobname, sort: id} }

func jobsNeeds(e domain.Event) []ref {
	if e, ok := e.(domain.JobEnded); ok {
		return []ref{jobRef(e.Jobname, e.RunID.String())}
	}
	return nil
}

func projectJobs(rec eventstore.Record, e domain.Event, v view) (change, error) {
	var j Job
	switch e := e.(type) {
	case domain.JobStarted:
		j = Job{ID: e.RunID.String(), User: e.User, Jobname: e.Jobname, Version: e.Version, Started: ms(e.At)}
	case domain.JobEnded:
		var err error
		j, err = loadedRow(v, jobRows, jobRef(e.Jobname, e.RunID.String()), Job{ID: e.RunID.String(), Jobname: e.Jobname, Version: e.Version})
		if err != nil {
			return change{}, err
		}
		j.Ended, j.Skipped, j.EndedBy = ptr(ms(e.At)), e.Skipped, e.EndedBy
	default:
		return change{}, nil
	}
	j.StreamVersion = rec.Version
	return change{puts: []rowPut{jobRows.put(j)}}, nil
}

// Job is one run of a job (Da-Playa's DaPlayaRunningJobs row). Times are epoch milliseconds;
// Ended is nil while the run runs.
type Job struct {
	ID      string `json:"id" row:"id,sort"`
	User    string `json:"user" row:"user"`
	Jobname string `json:"jobname" row:"jobname,partition"`
	Version string `json:"version" row:"version"`
	Started int64  `json:"started" row:"started"`
	Ended   *int64 `json:"ended" row:"ended"`
	Skipped bool   `json:"skipped" row:"skipped"`
	// EndedBy is who ended the run, when the end named a user.
	EndedBy string `json:"endedBy,omitempty" row:"endedBy,omitempty"`
	// StreamVersion is the version of the job stream the row reflects.
	StreamVersion int64 `json:"streamVersion" row:"streamVersion"`
}

var jobRows = newRowCodec[Job](TableJobs)
