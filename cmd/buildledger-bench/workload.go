package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"buildledger/domain"
	"buildledger/eventstore"
)

// The workload is what CI systems send, spread over the four kinds of stream so that every
// projection has work: repositories with builds on two browsers, package statuses with
// three locales, deploy locks and running jobs. Every command is one the domain accepts, so
// each one appends events; a stream's commands only depend on its kind and its step.

// streamKinds are the kinds of stream, used round robin by stream number.
var streamKinds = []string{"repo", "lock", "job", "status"}

var (
	benchBrowsers = []string{"chrome", "firefox"}
	benchLocales  = []string{"en-US", "fr-FR", "de-DE"}
)

// workloadStream is one stream of the workload: its id and how to make its commands.
type workloadStream struct {
	kind string
	name string // the stream's own name component
	id   string
}

// newWorkloadStream returns stream number k of a run; run keeps runs apart.
func newWorkloadStream(run string, k int) workloadStream {
	ws := workloadStream{kind: streamKinds[k%len(streamKinds)], name: fmt.Sprintf("%s-%d", run, k)}
	ws.id = ws.command(0).StreamID()
	return ws
}

// command returns the stream's step-th command (0, 1, 2, …).
func (ws workloadStream) command(step int) domain.Command {
	switch ws.kind {
	case "repo":
		// CreateBuild, then each browser finishes: three commands per build.
		build := step/3 + 1
		switch step % 3 {
		case 0:
			return domain.CreateBuild{User: "bench", Repo: ws.name, Tag: "v1." + strconv.Itoa(build) + ".0", Browsers: benchBrowsers}
		default:
			return domain.UpdateBuild{User: "bench", Repo: ws.name, BuildID: build, Browser: benchBrowsers[step%3-1], Status: "passed", Finished: true}
		}
	case "lock":
		if step%2 == 0 {
			return domain.Lock{Env: ws.name, User: "bench", Meta: "https://ci.example/deploy/" + strconv.Itoa(step)}
		}
		return domain.Release{Env: ws.name, User: "bench"}
	case "job":
		if step%2 == 0 {
			return domain.StartJob{Jobname: ws.name, User: "bench", Version: "abc123"}
		}
		return domain.EndJob{Jobname: ws.name, Version: "abc123"}
	default: // status
		pkg, env, version := ws.name, "prod", "1.0.0"
		switch {
		case step == 0:
			return domain.StartStatus{Pkg: pkg, Env: env, Version: version, PreviousVersion: "0.9.0", Locales: benchLocales}
		case step%10 == 0 && step/10 <= len(benchLocales):
			return domain.CompleteLocale{Pkg: pkg, Env: env, Version: version, Locale: benchLocales[step/10-1]}
		default:
			return domain.RecordStatusEvent{Pkg: pkg, Env: env, Version: version, Locale: benchLocales[step%len(benchLocales)],
				Message: "built step " + strconv.Itoa(step), Details: "webpack: 312 modules"}
		}
	}
}

// plannedCommand is a command of the workload with the events it appends, decided ahead by
// the domain, so that the raw baselines can write them without deciding anything.
type plannedCommand struct {
	stream   string
	id       string
	cmd      domain.Command
	body     []byte // the message body, for the end-to-end figure
	expected int64  // the stream version before the command
	events   []eventstore.Event
}

// last is the stream version after the command.
func (p plannedCommand) last() int64 { return p.expected + int64(len(p.events)) }

// planner decides a stream's commands in memory, with the domain's own aggregate.
type planner struct {
	ws   workloadStream
	agg  domain.Aggregate
	step int
	env  domain.Env
	at   time.Time
}

func newPlanner(ws workloadStream, start time.Time) (*planner, error) {
	agg, err := domain.NewAggregate(ws.id)
	if err != nil {
		return nil, err
	}
	return &planner{
		ws: ws, agg: agg, at: start,
		env: domain.Env{NewID: uuid.New, NewTimeID: func() uuid.UUID { return uuid.Must(uuid.NewV7()) }},
	}, nil
}

// next decides the stream's next command and applies its events.
func (p *planner) next() (plannedCommand, error) {
	cmd := p.ws.command(p.step)
	p.step++
	p.at = p.at.Add(time.Millisecond)
	p.env.Now = p.at
	pc := plannedCommand{stream: p.ws.id, id: uuid.NewString(), cmd: cmd, expected: p.agg.Version()}
	evs, err := p.agg.Handle(cmd, p.env)
	if err != nil {
		return pc, fmt.Errorf("bench: workload: %s step %d (%s): %w", p.ws.id, p.step-1, cmd.CommandType(), err)
	}
	for _, ev := range evs {
		typ, body, err := domain.EncodeEvent(ev)
		if err != nil {
			return pc, err
		}
		p.agg.Apply(ev)
		pc.events = append(pc.events, eventstore.Event{Type: typ, Body: body})
	}
	return pc, nil
}

// fillEventStore writes about total events of the workload to st, over streams of about
// perStream events each, with writers concurrent appends of up to 99 events. It returns the
// number of events written.
func fillEventStore(ctx context.Context, st eventstore.Store, run string, total, perStream, writers int) (int64, error) {
	streams := max(total/perStream, 1)
	var written int64
	var mu sync.Mutex
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan int)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for k := range work {
				quota := total / streams
				if k < total%streams {
					quota++
				}
				n, err := fillStream(ctx, st, newWorkloadStream(run, k), quota)
				mu.Lock()
				written += n
				mu.Unlock()
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	for k := range streams {
		select {
		case work <- k:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return written, context.Cause(ctx)
}

// fillStream appends quota events (a command's events are never split, so one more may be
// written) of ws in appends of up to 99 events.
func fillStream(ctx context.Context, st eventstore.Store, ws workloadStream, quota int) (int64, error) {
	p, err := newPlanner(ws, time.Now())
	if err != nil {
		return 0, err
	}
	var batch []eventstore.Event
	var version int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := st.Append(ctx, ws.id, version, batch, eventstore.CommandRef{ID: uuid.NewString(), Type: "Bench"}); err != nil {
			return err
		}
		version += int64(len(batch))
		batch = batch[:0]
		return nil
	}
	for int(version)+len(batch) < quota {
		pc, err := p.next()
		if err != nil {
			return version, err
		}
		if len(batch)+len(pc.events) > eventstore.MaxEventsPerAppend {
			if err := flush(); err != nil {
				return version, err
			}
		}
		batch = append(batch, pc.events...)
	}
	err = flush()
	return version, err
}
