package httpapi_test

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"buildledger/domain"
)

// leasedFixture: on production alice took a 10m lease 30 minutes ago that nobody renewed
// (its expiry is not recorded yet); on staging bob holds the lock, carol waits behind him,
// and a weekend freeze ("0 18 * * FRI" for 64h, open now: now is a Saturday) was added.
func leasedFixture(t *testing.T) *fixture {
	f := newFixture(t)
	f.doAt(now.Add(-30*time.Minute), domain.Lock{Env: "production", User: "alice", Meta: "CI URL", Lease: "10m"})
	f.doAt(now.Add(-10*time.Minute), domain.Lock{Env: "staging", User: "bob"})
	f.doAt(now.Add(-2*time.Minute), domain.AddFreeze{Env: "staging", User: "ops", Cron: "0 18 * * FRI", Duration: "64h", Reason: "weekend"})
	f.doAt(now.Add(-5*time.Second), domain.Lock{Env: "staging", User: "carol", Queue: true})
	return f
}

func rfc3339(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }

func TestLockLogRoutes_GivenLeasesQueuesAndFreezes_WhenQueried_ThenAnswer200FromTheEvents(t *testing.T) {
	f := leasedFixture(t)
	f.expectOK(t, []okCase{
		{"given a time inside alice's lease then she held production", "/v1/locks?env=production&at=" + rfc3339(now.Add(-25*time.Minute)),
			func(t *testing.T, o map[string]any, _ []any) {
				want := map[string]any{"env": "production", "held": true, "user": "alice", "token": 1.0,
					"since": now.Add(-30 * time.Minute).Format(time.RFC3339), "expiresAt": now.Add(-20 * time.Minute).Format(time.RFC3339)}
				if !reflect.DeepEqual(o, want) {
					t.Errorf("holding\n got %v\nwant %v", o, want)
				}
			}},
		{"given a time after alice's lease ran out, its expiry not recorded, then nobody held production",
			"/v1/locks?env=production&at=" + rfc3339(now.Add(-15*time.Minute)),
			func(t *testing.T, o map[string]any, _ []any) {
				if want := map[string]any{"env": "production", "held": false}; !reflect.DeepEqual(o, want) {
					t.Errorf("holding = %v, want %v", o, want)
				}
			}},
		{"given no at then the lock rows as before, with the lease", "/v1/locks?env=production",
			func(t *testing.T, _ map[string]any, a []any) {
				if len(a) != 1 || a[0].(map[string]any)["active"] != true || a[0].(map[string]any)["leaseMs"] != 600000.0 ||
					a[0].(map[string]any)["fencingToken"] != 1.0 {
					t.Errorf("locks = %v, want alice's row (its expiry is not recorded) with token and lease", a)
				}
			}},
		{"given production then its history is alice's grant", "/v1/locks/history?env=production",
			func(t *testing.T, _ map[string]any, a []any) {
				if len(a) != 1 || a[0].(map[string]any)["event"] != "granted" || a[0].(map[string]any)["user"] != "alice" {
					t.Errorf("history = %v", a)
				}
			}},
		{"given staging since three minutes ago then the freeze and carol's place", "/v1/locks/history?env=staging&since=" + rfc3339(now.Add(-3*time.Minute)),
			func(t *testing.T, _ map[string]any, a []any) {
				var events []string
				for _, e := range a {
					events = append(events, fmt.Sprint(e.(map[string]any)["event"]))
				}
				if want := []string{"freeze-added", "queued"}; !reflect.DeepEqual(events, want) {
					t.Errorf("history events = %v, want %v", events, want)
				}
			}},
		{"given staging then bob holds it and carol waits first", "/v1/locks/queue?env=staging",
			func(t *testing.T, o map[string]any, _ []any) {
				holder, _ := o["holder"].(map[string]any)
				waiting, _ := o["waiting"].([]any)
				if holder["user"] != "bob" || holder["held"] != true || len(waiting) != 1 {
					t.Fatalf("queue = %v", o)
				}
				if w := waiting[0].(map[string]any); w["user"] != "carol" || w["position"] != 1.0 || w["since"] != now.Add(-5*time.Second).Format(time.RFC3339) {
					t.Errorf("waiter = %v", w)
				}
			}},
		{"given production then nobody waits, as an empty list", "/v1/locks/queue?env=production",
			func(t *testing.T, o map[string]any, _ []any) {
				if w, ok := o["waiting"].([]any); !ok || len(w) != 0 {
					t.Errorf("queue = %v, want waiting []", o)
				}
			}},
		{"given staging on a Saturday then the weekend freeze is open until Monday", "/v1/freezes?env=staging",
			func(t *testing.T, _ map[string]any, a []any) {
				want := []any{map[string]any{"id": 1.0, "cron": "0 18 * * FRI", "duration": "64h0m0s", "tz": "UTC", "reason": "weekend",
					"user": "ops", "addedAt": now.Add(-2 * time.Minute).Format(time.RFC3339), "open": true, "openUntil": "2026-11-23T10:00:00Z"}}
				if !reflect.DeepEqual(a, want) {
					t.Errorf("freezes\n got %v\nwant %v", a, want)
				}
			}},
	})
}

func TestLockLogRoutes_GivenBadParameters_WhenQueried_ThenAnswer400NamingTheParameter(t *testing.T) {
	f := leasedFixture(t)
	f.expectBadParam(t, []badParamCase{
		{"given an at that is no time", "/v1/locks?env=production&at=yesterday", "at"},
		{"given an empty at", "/v1/locks?env=production&at=", "at"},
		{"given an at without a zone", "/v1/locks?env=production&at=2026-11-21T11:00:00", "at"},
		{"given an at without env", "/v1/locks?at=" + rfc3339(now), "env"},
		{"given a history without env", "/v1/locks/history", "env"},
		{"given a history of a look-alike env", "/v1/locks/history?env=production%20", "env"},
		{"given a history since no time", "/v1/locks/history?env=production&since=monday", "since"},
		{"given a queue of a 3000-byte env", "/v1/locks/queue?env=" + strings.Repeat("e", 3000), "env"},
		{"given freezes without env", "/v1/freezes", "env"},
		{"given freezes of an env with a slash", "/v1/freezes?env=a%2Fb", "env"},
	})
}
