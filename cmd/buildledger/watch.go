package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/feed"
	"buildledger/internal/termout"
)

// watchLatencyHelp is what every watch view's --help says about how late it shows a change.
const watchLatencyHelp = `It follows the event store's gap-free feed (internal/feed) filtered to one stream, not a
poll of the read tables. A change shows once the feed's high-water mark passes it: about
--clock-tolerance + 2s after it happened (3s with the default tolerance of 1s).`

// watchPollInterval is how often a watch view asks the feed for new events.
const watchPollInterval = 250 * time.Millisecond

// errWatchDone ends a follow once the view reached its end (a build complete, an error).
var errWatchDone = errors.New("watch: done")

// watchReader returns the feed reader a watch view follows its stream with.
//
// Its clock and settle window are the API feed's (the workers' clock skew plus commit
// latency), so that no event of the stream is skipped. Its reorder window is next to
// nothing: a watch view takes an event of its stream only as the signal that the stream
// moved, and then loads the stream itself from the version it has seen (strongly
// consistent, in version order), so an event keyed earlier than its predecessor by a slower
// clock neither reorders nor loses anything. Without the reorder window a change shows some
// 4s sooner.
func (b *backend) watchReader() (*feed.Reader, error) {
	api, err := b.s.Clock.feedReader(b.app.Events)
	if err != nil {
		return nil, err
	}
	cfg := api.Config()
	cfg.Reorder, cfg.PollInterval = time.Nanosecond, watchPollInterval
	return feed.New(cfg)
}

// foldRecords folds the events of recs into a view with apply, in version order, and sets
// *version, the stream version the view shows, to the last record's.
func foldRecords(recs []eventstore.Record, apply func(domain.Event), version *int64) error {
	events, err := decodeRecords(recs)
	if err != nil {
		return err
	}
	for _, e := range events {
		apply(e)
	}
	*version = recs[len(recs)-1].Version
	return nil
}

// followStream loads stream's events after version seen and passes them to apply, then
// passes the new ones each time the feed brings an event of the stream (the events up to
// it, read from the stream itself), until apply says the view
// is done (nil), ctx ends (an exit-130 error) or reading fails. apply gets every event once,
// in version order.
func (b *backend) followStream(ctx context.Context, stream string, seen int64, apply func([]eventstore.Record) (done bool, err error)) error {
	reader, err := b.watchReader()
	if err != nil {
		return err
	}
	cfg := reader.Config()
	// Events appended after the load below carry keys from a worker's clock, at most the
	// skew (less than Settle) before the present: start the feed well before that; what the
	// load already covered is told apart by version.
	from := feed.Cursor{Position: eventstore.FirstKeyAt(cfg.Now().Add(-3 * cfg.Settle))}
	// load reads the stream after seen, up to version through (all of it when 0), so that
	// each event the feed brings shows at its own time.
	load := func(through int64) (bool, error) {
		var (
			recs []eventstore.Record
			err  error
		)
		if through == 0 {
			recs, err = b.app.Events.Load(ctx, stream, seen+1)
		} else {
			recs, err = b.app.Events.LoadRange(ctx, stream, seen+1, through)
		}
		if err != nil {
			return false, fmt.Errorf("read %s after version %d: %w", stream, seen, err)
		}
		if len(recs) == 0 {
			return false, nil
		}
		seen = recs[len(recs)-1].Version
		return apply(recs)
	}
	done, err := load(0)
	if err != nil || done {
		return watchEnded(ctx, err)
	}
	err = reader.Follow(ctx, from, feed.Filter{Stream: stream}, func(it feed.Item) error {
		if it.Record.Version <= seen {
			return nil
		}
		done, err := load(it.Record.Version)
		if err == nil && done {
			return errWatchDone
		}
		return err
	})
	if errors.Is(err, errWatchDone) {
		return nil
	}
	return watchEnded(ctx, err)
}

// watchEnded turns the end of ctx (Ctrl-C, SIGTERM) into an exit-130 error.
func watchEnded(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return &exitError{code: exitInterrupted, err: errors.New("interrupted")}
	}
	return err
}

// watchOutput writes a watch view's successive states: on a terminal a frame redrawn in
// place, and otherwise (a pipe, a file, -o json) one JSON object per change, each line
// written at once so that a reader sees it when it happens.
type watchOutput struct {
	w io.Writer
	// json is true for newline-delimited JSON.
	json bool
	// redraw is true on a terminal: each frame replaces the one before.
	redraw bool
	// color allows ANSI colours (a terminal, without NO_COLOR).
	color bool
	// width is the terminal's number of columns (0 when unknown): longer lines are cut, so
	// that none wraps and the redraw goes back over exactly the frame's lines.
	width int
	// drawn is the number of lines of the frame on screen.
	drawn int
	// last is the last state written, so that an unchanged one is not written again.
	last string
}

// watchOutput returns the output of a watch view on cmd's standard output, in the format
// and colours print would use there.
func (s *settings) watchOutput(cmd *cobra.Command) *watchOutput {
	w, p := cmd.OutOrStdout(), s.printer(cmd)
	return &watchOutput{w: w, json: p.Format == termout.FormatJSON, redraw: termout.IsTerminal(w) && p.Format == termout.FormatTable,
		color: p.Color, width: p.Width}
}

// show writes the state v, drawn as frame on a terminal, unless it is the one shown last.
func (o *watchOutput) show(v any, frame func(color bool) string) error {
	if o.json {
		line, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if string(line) == o.last {
			return nil
		}
		o.last = string(line)
		_, err = o.w.Write(append(line, '\n'))
		return err
	}
	text := frame(o.color)
	if o.redraw && o.width > 0 {
		text = cutLines(text, o.width-1)
	}
	if text == o.last {
		return nil
	}
	o.last = text
	var b strings.Builder
	if o.redraw && o.drawn > 0 {
		// Back to the frame's first line, then clear to the end of the screen.
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", o.drawn)
	} else if o.drawn > 0 {
		b.WriteString("\n")
	}
	b.WriteString(text)
	if !strings.HasSuffix(text, "\n") {
		b.WriteString("\n")
	}
	o.drawn = strings.Count(text, "\n")
	if !strings.HasSuffix(text, "\n") {
		o.drawn++
	}
	_, err := io.WriteString(o.w, b.String())
	return err
}

// cutLines cuts every line of text to width visible characters; ANSI colour sequences take
// no room, and a cut line ends with a colour reset.
func cutLines(text string, width int) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		var (
			b       strings.Builder
			visible int
			escape  bool
			cut     bool
		)
		for _, r := range line {
			switch {
			case escape:
				escape = r != 'm'
			case r == '\x1b':
				escape = true
			case visible == width:
				cut = true
			default:
				visible++
			}
			if cut {
				break
			}
			b.WriteRune(r)
		}
		if cut {
			if strings.Contains(line, "\x1b[") {
				b.WriteString("\x1b[0m")
			}
			lines[i] = b.String()
		}
	}
	return strings.Join(lines, "\n")
}

// bar draws a progress bar of width cells, filled for fraction (0 to 1).
func bar(fraction float64, width int) string {
	fraction = min(max(fraction, 0), 1)
	full := int(fraction*float64(width) + 0.5)
	return "[" + strings.Repeat("█", full) + strings.Repeat("░", width-full) + "]"
}

// paint wraps s in the ANSI colour code when color is on.
func paint(color bool, code, s string) string {
	if !color || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// ANSI colours of the watch views.
const (
	colorGreen = "32"
	colorRed   = "31"
	colorDim   = "2"
)
