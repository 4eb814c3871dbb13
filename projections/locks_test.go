package projections

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
)

// daPlayaLockColumns are the attributes of a lock row without leases, queues or overrides:
// the row Da-Playa's fields alone make, which stored rows have.
var daPlayaLockColumns = []string{"active", "createdAt", "env", "id", "meta", "streamVersion", "uberlock", "updatedAt", "user"}

func TestLocks_GivenLeasesQueuesAndOverrides_WhenProjected_ThenTheRowsSayHowEachLockStands(t *testing.T) {
	const env = "PRODUCTION"
	stream := domain.LockStreamID(env)
	id1, id2 := uuid.New(), uuid.New()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	end := func(min int) *time.Time { e := at(min); return &e }
	lease := (10 * time.Minute).Milliseconds()
	tests := []struct {
		name   string
		events []domain.Event
		id     uuid.UUID
		want   Lock
	}{
		{
			name:   "given a grant with a lease then the row has its token, lease and expiry",
			events: []domain.Event{domain.Locked{Env: env, User: "ann", Meta: "CI", LockID: id1, At: at(0), Token: 1, LeaseMs: lease, ExpiresAt: end(10)}},
			id:     id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(0)), Active: true, Meta: "CI",
				FencingToken: 1, LeaseMs: lease, ExpiresAt: ms(at(10)), StreamVersion: 1},
		},
		{
			name: "given a renewal then the lease and expiry move and the token stays",
			events: []domain.Event{
				domain.Locked{Env: env, User: "ann", Meta: "CI", LockID: id1, At: at(0), Token: 1, LeaseMs: lease, ExpiresAt: end(10)},
				domain.LockRefreshed{Env: env, User: "ann", Meta: "CI", LockID: id1, At: at(5), Token: 1, LeaseMs: 2 * lease, ExpiresAt: end(25), Renewed: true},
			},
			id: id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(5)), Active: true, Meta: "CI",
				FencingToken: 1, LeaseMs: 2 * lease, ExpiresAt: ms(at(25)), StreamVersion: 2},
		},
		{
			name: "given a grant passed from the queue then claimed then the claim is cleared",
			events: []domain.Event{
				domain.Locked{Env: env, User: "bob", LockID: id2, At: at(0), Token: 1, LeaseMs: domain.ClaimWindow.Milliseconds(), ExpiresAt: end(1), Claim: true},
				domain.LockRefreshed{Env: env, User: "bob", Meta: "deploy", LockID: id2, At: at(0), Token: 1, LeaseMs: lease, ExpiresAt: end(10), Claimed: true},
			},
			id: id2,
			want: Lock{ID: id2.String(), User: "bob", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(0)), Active: true, Meta: "deploy",
				FencingToken: 1, LeaseMs: lease, ExpiresAt: ms(at(10)), StreamVersion: 2},
		},
		{
			name:   "given a grant passed from the queue and not claimed then the row is a claim",
			events: []domain.Event{domain.Locked{Env: env, User: "bob", LockID: id2, At: at(0), Token: 1, LeaseMs: 20000, ExpiresAt: end(1), Claim: true}},
			id:     id2,
			want: Lock{ID: id2.String(), User: "bob", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(0)), Active: true,
				FencingToken: 1, LeaseMs: 20000, ExpiresAt: ms(at(1)), Claim: true, StreamVersion: 1},
		},
		{
			name: "given a lease that ran out then the row is inactive, ended expired, the rest kept",
			events: []domain.Event{
				domain.Locked{Env: env, User: "ann", Meta: "CI", LockID: id1, At: at(0), Token: 1, LeaseMs: lease, ExpiresAt: end(10)},
				domain.LockExpired{Env: env, User: "ann", LockID: id1, Token: 1, ExpiresAt: at(10), At: at(11)},
			},
			id: id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(11)), Meta: "CI",
				FencingToken: 1, LeaseMs: lease, ExpiresAt: ms(at(10)), Ended: LockEndedExpired, StreamVersion: 2},
		},
		{
			name: "given a forced release then the row names who forced it and why",
			events: []domain.Event{
				domain.Locked{Env: env, User: "ann", LockID: id1, At: at(0), Token: 1},
				domain.Released{Env: env, User: "ann", LockID: id1, At: at(3), Token: 1, ForcedBy: "ops", Reason: "stuck deploy"},
			},
			id: id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(3)),
				FencingToken: 1, Ended: LockEndedForced, ForcedBy: "ops", Reason: "stuck deploy", StreamVersion: 2},
		},
		{
			name: "given a holder's own release then the row has no ending",
			events: []domain.Event{
				domain.Locked{Env: env, User: "ann", LockID: id1, At: at(0), Token: 1},
				domain.Released{Env: env, User: "ann", LockID: id1, At: at(3), Token: 1},
			},
			id: id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(3)),
				FencingToken: 1, StreamVersion: 2},
		},
		{
			name: "given a break-glass grant then the row says so with the reason",
			events: []domain.Event{domain.Locked{Env: env, User: "ann", LockID: id1, At: at(0), Token: 1,
				BreakGlass: true, Freeze: "freeze 1", Reason: "hotfix"}},
			id: id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(0)), Active: true,
				FencingToken: 1, BreakGlass: true, Reason: "hotfix", StreamVersion: 1},
		},
		{
			name: "given queue and freeze events then the lock row does not change",
			events: []domain.Event{
				domain.Locked{Env: env, User: "ann", LockID: id1, At: at(0), Token: 1},
				domain.LockQueued{Env: env, User: "bob", Holder: "ann", Position: 1, Waiting: 1, At: at(1)},
				domain.LockQueueLeft{Env: env, User: "bob", At: at(2)},
				domain.FreezeAdded{Env: env, ID: 1, User: "ops", Cron: "0 18 * * FRI", DurationMs: 3600000, TZ: "UTC", Reason: "weekend", At: at(3)},
				domain.FreezeRemoved{Env: env, ID: 1, User: "ops", At: at(4)},
			},
			id: id1,
			want: Lock{ID: id1.String(), User: "ann", Env: env, CreatedAt: ms(at(0)), UpdatedAt: ms(at(0)), Active: true,
				FencingToken: 1, StreamVersion: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFold(t)
			f.apply(stream, tt.events...)
			got, err := lockRows.row(f.rows[lockRef(env, tt.id.String())])
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("row\n got %+v\nwant %+v", got, tt.want)
			}
			if n := len(f.rows); n != 1 {
				t.Errorf("%d rows, want the one lock's", n)
			}
		})
	}
}

func TestLocks_GivenALockWithoutTheNewFeatures_WhenProjected_ThenItsItemHasDaPlayasColumnsOnly(t *testing.T) {
	const env = "PRODUCTION"
	id := uuid.New()
	tests := []struct {
		name   string
		events []domain.Event
	}{
		{"given an event written before tokens", []domain.Event{
			domain.Locked{Env: env, User: "ann", Meta: "CI", LockID: id, At: t0},
			domain.LockRefreshed{Env: env, User: "ann", Meta: "CLI", LockID: id, At: t0.Add(time.Minute)},
			domain.Released{Env: env, User: "ann", LockID: id, At: t0.Add(2 * time.Minute)},
		}},
		{"given a grant written before tokens, still held", []domain.Event{
			domain.Locked{Env: env, User: "ann", Meta: "CI", LockID: id, At: t0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFold(t)
			f.apply(domain.LockStreamID(env), tt.events...)
			cols := slices.Sorted(maps.Keys(f.rows[lockRef(env, id.String())]))
			if !slices.Equal(cols, daPlayaLockColumns) {
				t.Errorf("columns %v, want %v", cols, daPlayaLockColumns)
			}
		})
	}
}
