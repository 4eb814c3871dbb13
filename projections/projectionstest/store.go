// Package projectionstest holds the tests every projections.Store must pass (Run), a
// scripted workload of all four aggregates (Workload), and the replay scenarios that
// compare live and replayed read models on a given backend (RunReplay). The in-memory store
// and the DynamoDB adapter run the same tests, so that what holds for one holds for the
// other.
package projectionstest

import (
	"context"
	"testing"

	"buildledger/projections"
)

// Run runs the store conformance suite. newStore must return a store that no other test
// uses, on which projections.Init has not run yet; subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) projections.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(ctx context.Context, t *testing.T, st projections.Store)
	}{
		{"given a new store when Init runs twice then generation 0 and readmodel exist once", testInit},
		{"given items of every value type when read back then values are normalized alike", testRoundTrip},
		{"given keys with and without items when Get then only stored items return", testGetMissing},
		{"given 250 keys over several tables when Get then every item returns", testGetMany},
		{"given an absent guard when the item exists then the write fails and changes nothing", testGuardAbsent},
		{"given an equal guard when the value matches, differs or the item is missing then only the match writes", testGuardEqual},
		{"given an older guard when stored tuples are older, equal or newer then only newer tuples write", testGuardOlder},
		{"given a transaction with one failing guard when written then none of it is written", testAtomic},
		{"given numeric and string sort keys when queried then order, after, descending, limit and filter hold", testQuery},
		{"given a global index when queried then it returns its partition in index order", testQueryIndex},
		{"given 1.2 MB in one partition when queried and scanned then every page is followed", testPaging},
		{"given 120 puts and deletes when written in a batch then all take effect", testWriteBatch},
		{"given malformed writes when written then ErrInvalidWrite and nothing written", testInvalidWrites},
		{"given a missing table when read or written then ErrNoTable", testNoTable},
		{"given generation tables when created and dropped then Tables follows", testGenerations},
		{"given 20 concurrent newest-wins writers when done then the newest tuple is stored", testConcurrentOlder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, st := context.Background(), newStore(t)
			if _, err := projections.Init(ctx, st); err != nil {
				t.Fatalf("Init: %v", err)
			}
			tc.test(ctx, t, st)
		})
	}
}

var (
	repos     = projections.Table{Name: projections.TableRepos}
	builds    = projections.Table{Name: projections.TableBuilds}
	heads     = projections.Table{Name: projections.TableStatusHeads}
	events    = projections.Table{Name: projections.TableStatusEvents}
	jobs      = projections.Table{Name: projections.TableJobs}
	positions = projections.Table{Name: projections.TablePositions}
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, st projections.Store, k projections.Key) projections.Item {
	t.Helper()
	items, err := st.Get(context.Background(), []projections.Key{k})
	must(t, err)
	return items[k]
}

func headItem(pkgEnv, startedKey string, sv int64) projections.Item {
	return projections.Item{"pkgEnv": pkgEnv, "startedKey": startedKey, "streamVersion": sv}
}
