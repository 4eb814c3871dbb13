package projections

import (
	"reflect"
	"testing"
)

// rowCase is a row, the item stored for it, and the row read back from that item.
type rowCase struct {
	name   string
	encode func() Item
	want   Item
	decode func(Item) (any, error)
	back   any
}

func rowCases() []rowCase {
	build := "7"
	ended := int64(1714564800500)
	return []rowCase{
		{
			name: "given a repo with no build in progress then null columns",
			encode: func() Item {
				return repoRows.item(Repo{User: "api", Repo: "foo", LatestBuild: &build, StreamVersion: 9})
			},
			want:   Item{"user": "api", "repo": "foo", "currentBuildInProgress": nil, "latestBuild": "7", "streamVersion": int64(9)},
			decode: func(it Item) (any, error) { return repoRows.row(it) },
			back:   Repo{User: "api", Repo: "foo", LatestBuild: &build, StreamVersion: 9},
		},
		{
			name: "given a build then fixed columns and a column and pending flag per browser",
			encode: func() Item {
				return buildRows.item(Build{RepoID: "api/foo", BuildID: 2, Tag: "master", Pending: 1, StreamVersion: 4,
					Browsers: []BrowserStatus{{Name: "BrowserA", Status: "passed"}, {Name: "BrowserB", Status: "queued", Pending: true}}})
			},
			want: Item{"repoID": "api/foo", "buildID": int64(2), "tag": "master", "pending": int64(1), "streamVersion": int64(4),
				"BrowserA": "passed", "BrowserA-pending": false, "BrowserB": "queued", "BrowserB-pending": true},
			decode: func(it Item) (any, error) { return buildRows.row(it) },
			back: Build{RepoID: "api/foo", BuildID: 2, Tag: "master", Pending: 1, StreamVersion: 4,
				Browsers: []BrowserStatus{{Name: "BrowserA", Status: "passed"}, {Name: "BrowserB", Status: "queued", Pending: true}}},
		},
		{
			name: "given a status then its pkgEnv key",
			encode: func() Item {
				return statusRows.item(Status{Pkg: "@s/ui", Env: "dev", Version: "1.0.1", PreviousVersion: "1.0.0", Total: 50, Error: true,
					CreatedAt: 10, UpdatedAt: 20, StreamVersion: 3})
			},
			want: Item{"pkgEnv": "@s/ui#dev", "pkg": "@s/ui", "env": "dev", "version": "1.0.1", "previousVersion": "1.0.0", "total": float64(50),
				"error": true, "complete": false, "createdAt": int64(10), "updatedAt": int64(20), "streamVersion": int64(3)},
			decode: func(it Item) (any, error) { return statusRows.row(it) },
			back: Status{Pkg: "@s/ui", Env: "dev", Version: "1.0.1", PreviousVersion: "1.0.0", Total: 50, Error: true,
				CreatedAt: 10, UpdatedAt: 20, StreamVersion: 3},
		},
		{
			name: "given a status head then its started key",
			encode: func() Item {
				return headRows.item(StatusHead{Pkg: "ui", Env: "dev", Version: "2", PreviousVersion: "1", Total: 12.5, CreatedAt: 1, UpdatedAt: 2,
					StreamVersion: 5, StartedKey: "20240101T000000000000000001"})
			},
			want: Item{"pkgEnv": "ui#dev", "pkg": "ui", "env": "dev", "version": "2", "previousVersion": "1", "total": 12.5,
				"createdAt": int64(1), "updatedAt": int64(2), "startedKey": "20240101T000000000000000001", "streamVersion": int64(5)},
			decode: func(it Item) (any, error) { return headRows.row(it) },
			back: StatusHead{Pkg: "ui", Env: "dev", Version: "2", PreviousVersion: "1", Total: 12.5, CreatedAt: 1, UpdatedAt: 2,
				StreamVersion: 5, StartedKey: "20240101T000000000000000001"},
		},
		{
			name: "given a status event then its seq is also its stream version",
			encode: func() Item {
				return eventRows.item(StatusEvent{Pkg: "ui", Env: "dev", Version: "2", Locale: "en", Message: "m", Details: "d",
					CreatedAt: 7, EventID: "e1", Seq: 6})
			},
			want: Item{"pkgEnvVersion": "ui#dev#2", "seq": int64(6), "pkg": "ui", "env": "dev", "version": "2", "locale": "en", "error": false,
				"message": "m", "details": "d", "createdAt": int64(7), "eventId": "e1", "streamVersion": int64(6)},
			decode: func(it Item) (any, error) { return eventRows.row(it) },
			back:   StatusEvent{Pkg: "ui", Env: "dev", Version: "2", Locale: "en", Message: "m", Details: "d", CreatedAt: 7, EventID: "e1", Seq: 6},
		},
		{
			name: "given a status counter then its pkgEnvVersion key",
			encode: func() Item {
				return counterRows.item(StatusCounter{Pkg: "ui", Env: "dev", Version: "2", Count: 3, StreamVersion: 8})
			},
			want:   Item{"pkgEnvVersion": "ui#dev#2", "pkg": "ui", "env": "dev", "version": "2", "count": int64(3), "streamVersion": int64(8)},
			decode: func(it Item) (any, error) { return counterRows.row(it) },
			back:   StatusCounter{Pkg: "ui", Env: "dev", Version: "2", Count: 3, StreamVersion: 8},
		},
		{
			name: "given a lock then Da-Playa's columns",
			encode: func() Item {
				return lockRows.item(Lock{ID: "l1", User: "ann", Env: "prod", CreatedAt: 1, UpdatedAt: 2, Active: true, Meta: "m", StreamVersion: 2})
			},
			want: Item{"env": "prod", "id": "l1", "user": "ann", "createdAt": int64(1), "updatedAt": int64(2), "active": true,
				"uberlock": false, "meta": "m", "streamVersion": int64(2)},
			decode: func(it Item) (any, error) { return lockRows.row(it) },
			back:   Lock{ID: "l1", User: "ann", Env: "prod", CreatedAt: 1, UpdatedAt: 2, Active: true, Meta: "m", StreamVersion: 2},
		},
		{
			name: "given a running job then ended is null and endedBy absent",
			encode: func() Item {
				return jobRows.item(Job{ID: "r1", User: "bob", Jobname: "deploy", Version: "abc", Started: 5, StreamVersion: 1})
			},
			want: Item{"jobname": "deploy", "id": "r1", "user": "bob", "version": "abc", "started": int64(5), "ended": nil,
				"skipped": false, "streamVersion": int64(1)},
			decode: func(it Item) (any, error) { return jobRows.row(it) },
			back:   Job{ID: "r1", User: "bob", Jobname: "deploy", Version: "abc", Started: 5, StreamVersion: 1},
		},
		{
			name: "given a job ended by a user then ended and endedBy",
			encode: func() Item {
				return jobRows.item(Job{ID: "r1", User: "bob", Jobname: "deploy", Version: "abc", Started: 5, Ended: &ended, Skipped: true,
					EndedBy: "carol", StreamVersion: 2})
			},
			want: Item{"jobname": "deploy", "id": "r1", "user": "bob", "version": "abc", "started": int64(5), "ended": ended,
				"skipped": true, "endedBy": "carol", "streamVersion": int64(2)},
			decode: func(it Item) (any, error) { return jobRows.row(it) },
			back: Job{ID: "r1", User: "bob", Jobname: "deploy", Version: "abc", Started: 5, Ended: &ended, Skipped: true,
				EndedBy: "carol", StreamVersion: 2},
		},
	}
}

func TestRowCodecs(t *testing.T) {
	for _, tc := range rowCases() {
		t.Run(tc.name, func(t *testing.T) {
			// Compared before normalization: types count, float64(50) is not int64(50).
			if got := tc.encode(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("item\n got  %#v\n want %#v", got, tc.want)
			}
			back, err := tc.decode(tc.want)
			if err != nil || !reflect.DeepEqual(back, tc.back) {
				t.Errorf("read back %#v, %v\n want %#v", back, err, tc.back)
			}
		})
	}
}

func TestRowCodecs_given_wrong_types_then_errors(t *testing.T) {
	for name, it := range map[string]Item{
		"repo":   {"user": int64(1)},
		"job":    {"ended": "soon"},
		"status": {"total": "half"},
		"lock":   {"active": "yes"},
	} {
		var err error
		switch name {
		case "repo":
			_, err = repoRows.row(it)
		case "job":
			_, err = jobRows.row(it)
		case "status":
			_, err = statusRows.row(it)
		case "lock":
			_, err = lockRows.row(it)
		}
		if err == nil {
			t.Errorf("given a %s row with a wrong type then an error", name)
		}
	}
}

func TestSchemas_given_row_tags_then_the_keys_tables_have_always_had(t *testing.T) {
	want := []TableSchema{
		{Name: TableRepos, PartitionKey: "user", SortKey: "repo", Projection: ProjectionBuilds, Generational: true},
		{Name: TableBuilds, PartitionKey: "repoID", SortKey: "buildID", SortKeyNumeric: true, Projection: ProjectionBuilds, Generational: true},
		{Name: TableStatuses, PartitionKey: "pkgEnv", SortKey: "version", Projection: ProjectionStatuses, Generational: true},
		{Name: TableStatusHeads, PartitionKey: "pkgEnv", Projection: ProjectionStatuses, Generational: true},
		{Name: TableStatusEvents, PartitionKey: "pkgEnvVersion", SortKey: "seq", SortKeyNumeric: true, Projection: ProjectionStatuses, Generational: true},
		{Name: TableStatusCounters, PartitionKey: "pkgEnvVersion", Projection: ProjectionStatuses, Generational: true},
		{Name: TableLocks, PartitionKey: "env", SortKey: "id", Projection: ProjectionLocks, Generational: true},
		{
			Name: TableJobs, PartitionKey: "jobname", SortKey: "id", Projection: ProjectionJobs, Generational: true,
			Indexes: []IndexSchema{{Name: IndexJobsByVersion, PartitionKey: "version", SortKey: "jobname"}},
		},
		{Name: TablePositions, PartitionKey: "stream", Generational: true},
		{Name: TableReadModel, PartitionKey: "id"},
	}
	if got := Schemas(); !reflect.DeepEqual(got, want) {
		t.Errorf("schemas\n got  %+v\n want %+v", got, want)
	}
}
