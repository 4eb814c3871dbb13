package projectionstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
)

// Writer decides domain commands and appends their events to an event store, as the
// worker's command handlers do, keeping the aggregates in memory. It is not safe for
// concurrent use; streams must not be shared between Writers.
type Writer struct {
	es   eventstore.Store
	rng  *rand.Rand
	aggs map[string]domain.Aggregate
	now  time.Time
}

// NewWriter returns a Writer whose clock starts at start and whose ids come from seed.
func NewWriter(es eventstore.Store, seed uint64, start time.Time) *Writer {
	return &Writer{es: es, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), aggs: map[string]domain.Aggregate{}, now: start}
}

func (w *Writer) uuid() uuid.UUID {
	var b [16]byte
	for i := range b {
		b[i] = byte(w.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b)
}

// Aggregate returns the aggregate of a stream as the Writer knows it.
func (w *Writer) Aggregate(stream string) (domain.Aggregate, error) {
	if a, ok := w.aggs[stream]; ok {
		return a, nil
	}
	a, err := domain.NewAggregate(stream)
	if err != nil {
		return nil, err
	}
	w.aggs[stream] = a
	return a, nil
}

// Do decides c and appends its events; a rule rejection is returned as the domain's error
// (errors.Is domain.ErrRejected) and appends nothing.
func (w *Writer) Do(ctx context.Context, c domain.Command) ([]eventstore.Record, error) {
	a, err := w.Aggregate(c.StreamID())
	if err != nil {
		return nil, err
	}
	w.now = w.now.Add(time.Second)
	env := domain.Env{Now: w.now, NewID: w.uuid, NewTimeID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }}
	evs, err := a.Handle(c, env)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, nil
	}
	out, err := Encode(evs)
	if err != nil {
		return nil, err
	}
	recs, err := w.es.Append(ctx, a.StreamID(), a.Version(), out, eventstore.CommandRef{ID: w.uuid().String(), Type: c.CommandType()})
	if err != nil {
		return nil, fmt.Errorf("append %s to %s: %w", c.CommandType(), a.StreamID(), err)
	}
	for _, e := range evs {
		a.Apply(e)
	}
	return recs, nil
}

// WorkloadConfig shapes a Workload.
type WorkloadConfig struct {
	// Events is the least number of events to append.
	Events int
	// Writers is the number of concurrent writers, each with its own streams; default 4.
	Writers int
	// Seed makes the command mix reproducible.
	Seed uint64
	// Start is the clock of the first command; default 2024-01-01 UTC.
	Start time.Time
}

// Workload appends a scripted mix of commands of all four aggregates — builds created and
// updated to completion, statuses started with locale progress and errors, locks taken,
// refreshed, refused and released (uberlocks, leases renewed and expired, queues handing
// the lock on, forced releases, freezes and break-glass grants too: see lockStory), jobs
// started and ended (some skipped) — until at least cfg.Events events are stored. It
// returns the number of events appended.
func Workload(ctx context.Context, es eventstore.Store, cfg WorkloadConfig) (int, error) {
	return NewLoad(es, cfg).Run(ctx, cfg.Events, nil)
}

// Load is a Workload that can run in several parts, each continuing the streams of the
// previous ones.
type Load struct {
	scripts []*script
}

// NewLoad returns a Load; cfg.Events is ignored (see Run).
func NewLoad(es eventstore.Store, cfg WorkloadConfig) *Load {
	if cfg.Writers == 0 {
		cfg.Writers = 4
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	l := &Load{}
	for i := range cfg.Writers {
		l.scripts = append(l.scripts, &script{w: NewWriter(es, cfg.Seed*1000+uint64(i), cfg.Start), id: i})
	}
	return l
}

// Run appends at least events more events, the writers running concurrently, and returns
// how many it appended. publish, when set, is called with every appended record, from the
// writer that appended it (so a stream's records are published in order).
func (l *Load) Run(ctx context.Context, events int, publish func(eventstore.Record) error) (int, error) {
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(l.scripts))
	for i, s := range l.scripts {
		wg.Go(func() {
			for total.Load() < int64(events) {
				recs, err := s.step(ctx)
				if err != nil {
					errs[i] = err
					return
				}
				total.Add(int64(len(recs)))
				for _, r := range recs {
					if publish == nil {
						continue
					}
					if err := publish(r); err != nil {
						errs[i] = err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	return int(total.Load()), errors.Join(errs...)
}

// script chooses plausible commands for one writer's streams.
type script struct {
	w        *Writer
	id       int
	versions map[string]int // status pkg/env → last version started
	// lockSteps counts the lock commands played (see lockStory).
	lockSteps int
}

var browsers = []string{"BrowserA", "BrowserB", "chrome", "firefox", "safari"}

func (s *script) pick(n int) int { return s.w.rng.IntN(n) }

func (s *script) step(ctx context.Context) ([]eventstore.Record, error) {
	var c domain.Command
	switch k := s.pick(10); {
	case k < 4:
		c = s.repoCommand()
	case k < 6:
		c = s.statusCommand()
	case k < 8:
		c = s.lockCommand()
	default:
		c = s.jobCommand()
	}
	recs, err := s.w.Do(ctx, c)
	if errors.Is(err, domain.ErrRejected) {
		return nil, nil
	}
	return recs, err
}

func (s *script) repoCommand() domain.Command {
	user, repo := fmt.Sprintf("u%d", s.id), fmt.Sprintf("r%d", s.pick(4))
	a, _ := s.w.Aggregate(domain.RepoStreamID(user, repo))
	r := a.(*domain.Repo)
	open := r.UnfinishedBuilds()
	if len(open) > 0 && s.pick(6) > 0 {
		b, _ := r.Build(open[s.pick(len(open))])
		br := b.Browsers[s.pick(len(b.Browsers))]
		status, finished := "started", false
		if s.pick(2) == 0 {
			status, finished = "finished", true
		}
		return domain.UpdateBuild{User: user, Repo: repo, BuildID: b.ID, Browser: br.Name, Status: status, Finished: finished}
	}
	n := 1 + s.pick(3)
	start := s.pick(len(browsers))
	var list []string
	for i := range n {
		list = append(list, browsers[(start+i)%len(browsers)])
	}
	return domain.CreateBuild{User: user, Repo: repo, Tag: []string{"master", "dev"}[s.pick(2)], Browsers: list}
}

func (s *script) statusCommand() domain.Command {
	if s.versions == nil {
		s.versions = map[string]int{}
	}
	pkg := []string{fmt.Sprintf("pkg%d", s.id), fmt.Sprintf("@scope/pkg%d", s.id)}[s.pick(2)]
	env := []string{"dev", "test"}[s.pick(2)]
	slot := pkg + "/" + env
	v := s.versions[slot]
	version := func(n int) string { return fmt.Sprintf("1.0.%d", n) }
	if v > 0 {
		a, _ := s.w.Aggregate(domain.StatusStreamID(pkg, env, version(v)))
		st := a.(*domain.Status)
		if !st.Complete() && s.pick(8) > 0 {
			if s.pick(2) == 0 {
				return domain.RecordStatusEvent{Pkg: pkg, Env: env, Version: version(v), Locale: "en", Message: "step", Details: "details", Error: s.pick(15) == 0}
			}
			locales := st.Locales()
			return domain.CompleteLocale{Pkg: pkg, Env: env, Version: version(v), Locale: locales[s.pick(len(locales))]}
		}
	}
	s.versions[slot] = v + 1
	prev := ""
	if v > 0 {
		prev = version(v)
	}
	return domain.StartStatus{Pkg: pkg, Env: env, Version: version(v + 1), PreviousVersion: prev, Locales: []string{"en", "fr", "de"}[:1+s.pick(3)]}
}

func (s *script) jobCommand() domain.Command {
	jobname, version := fmt.Sprintf("deploy-%d-%d", s.id, s.pick(2)), fmt.Sprintf("sha%d", s.pick(3))
	a, _ := s.w.Aggregate(domain.JobStreamID(jobname, version))
	if a.(*domain.Job).Running() {
		return domain.EndJob{Jobname: jobname, Version: version, Skipped: s.pick(3) == 0}
	}
	return domain.StartJob{Jobname: jobname, User: "ann@example.com", Version: version}
}
