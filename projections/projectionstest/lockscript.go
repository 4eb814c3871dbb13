package projectionstest

import (
	"context"
	"fmt"

	"buildledger/domain"
	"buildledger/eventstore"
)

// lockStory is the round of lock commands a writer's script plays on one env, then on its
// other env, and so on: a lease granted and renewed, a waiter queued who gets the lock
// passed on release and claims it, a forced release that passes it to the next waiter,
// a claim and a short lease left to expire, a freeze added (or removed) with a break-glass
// grant, an uberlock, and a waiter leaving. The script's clock advances a second a step and
// a lock command is one step in five, so that most waiters keep their places and leases
// and claims run out a few steps on; the rest is what timing makes of it (refusals, places
// dropped, grants during a freeze refused), as in production.
var lockStory = []func(env string, s *script) domain.Command{
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "ann@example.com", Meta: s.meta(), Lease: "1m"}
	},
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "bob@example.com", Meta: s.meta(), Queue: true}
	},
	func(env string, _ *script) domain.Command { return domain.Renew{Env: env, User: "ann@example.com"} },
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "bob@example.com", Meta: s.meta(), Queue: true}
	},
	func(env string, _ *script) domain.Command { return domain.Release{Env: env, User: "ann@example.com"} },
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "bob@example.com", Meta: s.meta()}
	},
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "carol@example.com", Meta: s.meta(), Lease: "2m", Queue: true}
	},
	func(env string, _ *script) domain.Command {
		return domain.Release{Env: env, User: "ops@example.com", Force: true, Reason: "stuck deploy"}
	},
	freezeCommand,
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "ann@example.com", Meta: s.meta(), Lease: "5s", Queue: true}
	},
	func(env string, _ *script) domain.Command { return domain.ExpireLock{Env: env} },
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "ann@example.com", Meta: s.meta(), Lease: "5s"}
	},
	func(env string, _ *script) domain.Command { return domain.ExpireLock{Env: env} },
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "ann@example.com", Meta: s.meta(), Lease: "1m", BreakGlass: true, Reason: "hotfix"}
	},
	func(env string, _ *script) domain.Command {
		return domain.Release{Env: env, User: "ann@example.com"}
	},
	func(env string, s *script) domain.Command {
		return domain.Lock{Env: env, User: "bob@example.com", Meta: s.meta(), Uberlock: true}
	},
	func(env string, s *script) domain.Command {
		return domain.Release{Env: env, User: "bob@example.com", Uberlock: s.pick(3) > 0}
	},
	func(env string, _ *script) domain.Command {
		return domain.LeaveQueue{Env: env, User: "carol@example.com"}
	},
}

// freezeCommand adds a freeze of three minutes every ten to an env without one, and
// removes the one an env has.
func freezeCommand(env string, s *script) domain.Command {
	a, _ := s.w.Aggregate(domain.LockStreamID(env))
	if fs := a.(*domain.EnvLock).Freezes(); len(fs) > 0 {
		return domain.RemoveFreeze{Env: env, User: "ops@example.com", ID: fs[0].ID}
	}
	return domain.AddFreeze{Env: env, User: "ops@example.com", Cron: "*/10 * * * *", Duration: "3m", Reason: "release train"}
}

// lockCommand returns the next command of the writer's lock story.
func (s *script) lockCommand() domain.Command {
	round := s.lockSteps / len(lockStory)
	env := fmt.Sprintf("ENV%d-%d", s.id, round%2)
	c := lockStory[s.lockSteps%len(lockStory)](env, s)
	s.lockSteps++
	return c
}

func (s *script) meta() string { return []string{"CI URL", "Slack", "CLI"}[s.pick(3)] }

// lockFeatures lists what the lock story must have made happen for the replay scenarios to
// cover it, each with the test of an event that shows it.
var lockFeatures = []struct {
	name string
	is   func(domain.Event) bool
}{
	{"a lease", func(e domain.Event) bool { l, ok := e.(domain.Locked); return ok && l.LeaseMs > 0 && !l.Claim }},
	{"a renewal", func(e domain.Event) bool { r, ok := e.(domain.LockRefreshed); return ok && r.Renewed }},
	{"a place in a queue", func(e domain.Event) bool { _, ok := e.(domain.LockQueued); return ok }},
	{"a grant passed from the queue", func(e domain.Event) bool { l, ok := e.(domain.Locked); return ok && l.Claim }},
	{"a claim", func(e domain.Event) bool { r, ok := e.(domain.LockRefreshed); return ok && r.Claimed }},
	{"an expiry", func(e domain.Event) bool { _, ok := e.(domain.LockExpired); return ok }},
	{"a forced release", func(e domain.Event) bool { r, ok := e.(domain.Released); return ok && r.ForcedBy != "" }},
	{"a freeze", func(e domain.Event) bool { _, ok := e.(domain.FreezeAdded); return ok }},
	{"a break-glass grant", func(e domain.Event) bool { l, ok := e.(domain.Locked); return ok && l.BreakGlass }},
}

// lockFeaturesMissing returns the lock features no event of es shows.
func lockFeaturesMissing(ctx context.Context, es eventstore.Store) ([]string, error) {
	seen := make([]bool, len(lockFeatures))
	for after := ""; ; {
		page, err := es.ReadAll(ctx, after, 500)
		if err != nil {
			return nil, err
		}
		for _, rec := range page.Records {
			if domain.StreamKind(rec.Stream) != domain.KindLock {
				continue
			}
			e, err := domain.DecodeEvent(rec.Type, rec.Body)
			if err != nil {
				return nil, err
			}
			for i, f := range lockFeatures {
				seen[i] = seen[i] || f.is(e)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	var missing []string
	for i, f := range lockFeatures {
		if !seen[i] {
			missing = append(missing, f.name)
		}
	}
	return missing, nil
}
