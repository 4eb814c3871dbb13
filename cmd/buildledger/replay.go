package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"buildledger/projections"
)

func newReplayCommand(s *settings) *cobra.Command {
	var (
		scope    projections.ReplayScope
		segments int
		workers  int
		every    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "replay [--projection NAME | --stream STREAM]",
		Short: "Rebuild the read models from the event store",
		Long: `replay rebuilds read models from the events.

Without flags it rebuilds every read model; --projection rebuilds one (builds, statuses,
locks, jobs); --stream rebuilds the rows of one stream (e.g. repo:api/foo).

A full or single-projection rebuild reads the events table with parallel scan segments
into a fresh generation of tables, switches readers over only when it is complete (queries
never see a half-built model), applies whatever the worker recorded meanwhile, and drops
the old tables. It is safe while the worker runs. An interrupted replay leaves the old
tables in use; the next run cleans up and starts over.

On a terminal it shows a progress bar with events/s and time left; otherwise it prints a
progress line every --progress-every.`,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			if scope.Projection != "" && scope.Stream != "" {
				return usageError("give --projection or --stream, not both")
			}
			if scope.Projection != "" && !validProjection(scope.Projection) {
				return usageError("--projection %q: want one of %v", scope.Projection, projections.ProjectionNames())
			}
			report := newProgressReporter(cmd.ErrOrStderr(), every)
			r, err := projections.NewReplayer(projections.ReplayerConfig{
				Store:            b.app.Reads,
				Events:           b.app.Events,
				Scanner:          b.app.Events,
				Segments:         segments,
				Workers:          workers,
				Progress:         report.update,
				ProgressInterval: 200 * time.Millisecond,
			})
			if err != nil {
				return err
			}
			res, err := r.Replay(cmd.Context(), scope)
			report.finish()
			if err != nil {
				return err
			}
			rate := 0.0
			if res.Elapsed > 0 {
				rate = float64(res.Events) / res.Elapsed.Seconds()
			}
			return s.print(cmd, map[string]any{
				"generation":    res.Generation,
				"events":        res.Events,
				"caughtUp":      res.CaughtUp,
				"droppedTables": len(res.Dropped),
				"elapsed":       res.Elapsed.Round(time.Millisecond).String(),
				"eventsPerSec":  int64(rate),
			})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&scope.Projection, "projection", "", "rebuild one projection: builds, statuses, locks or jobs")
	f.StringVar(&scope.Stream, "stream", "", "rebuild the rows of one stream, e.g. repo:api/foo")
	f.IntVar(&segments, "segments", 8, "parallel scan segments of the events table")
	f.IntVar(&workers, "workers", 8, "goroutines projecting events")
	f.DurationVar(&every, "progress-every", 5*time.Second, "interval of the progress lines when not on a terminal")
	return cmd
}

func validProjection(name string) bool {
	for _, p := range projections.ProjectionNames() {
		if p == name {
			return true
		}
	}
	return false
}

// progressReporter shows replay progress: a bar with rate and time left on a terminal,
// plain lines at an interval otherwise (logs, CI).
type progressReporter struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	every    time.Duration
	bar      *progressbar.ProgressBar
	total    int64
	last     time.Time
	done     int64
	rate     float64
}

func newProgressReporter(w io.Writer, every time.Duration) *progressReporter {
	terminal := false
	if f, ok := w.(*os.File); ok {
		terminal = isatty.IsTerminal(f.Fd())
	}
	return &progressReporter{w: w, terminal: terminal, every: every, total: -2}
}

func (p *progressReporter) update(done, total int64, rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.rate = done, rate
	if p.terminal {
		if p.bar == nil || total != p.total {
			p.total = total
			p.bar = progressbar.NewOptions64(max(total, -1),
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription("replay"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("events"),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionFullWidth(),
			)
		}
		if total > 0 && done > total {
			p.bar.ChangeMax64(done)
		}
		_ = p.bar.Set64(done)
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	fmt.Fprintln(p.w, progressLine(done, total, rate))
}

func (p *progressReporter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintln(p.w, progressLine(p.done, -1, p.rate))
}

func progressLine(done, total int64, rate float64) string {
	line := fmt.Sprintf("replay: %d events, %.0f events/s", done, rate)
	if total > 0 && rate > 0 && done < total {
		left := time.Duration(float64(total-done)/rate) * time.Second
		line += fmt.Sprintf(", %d of about %d, about %s left", done, total, left.Round(time.Second))
	}
	return line
}
