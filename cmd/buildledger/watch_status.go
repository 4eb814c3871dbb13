package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/eventstore"
)

// statusWatch is the state `status watch` shows: a package version's build, locale by
// locale, folded from the events of its status stream.
type statusWatch struct {
	Pkg     string `json:"pkg"`
	Env     string `json:"env"`
	Version string `json:"version"`
	// Started is false until the build's StatusStarted event.
	Started bool `json:"started"`
	// LocaleCount is the number of locales built.
	LocaleCount int `json:"localeCount"`
	// Completed is the number of locales completed.
	Completed int `json:"completed"`
	// Total is the progress as a percentage of completed locales.
	Total float64 `json:"total"`
	// Complete is true once every locale completed; Error once an error event was recorded.
	Complete bool `json:"complete"`
	Error    bool `json:"error"`
	// Message is the latest status event's message that names no locale.
	Message string `json:"message,omitempty"`
	// ErrorMessage is the message of the error event, as "locale: message".
	ErrorMessage string `json:"errorMessage,omitempty"`
	// Locales are the locales, as listed at the start, then in the order they appeared.
	Locales []localeWatch `json:"locales"`
	// StreamVersion is the version of the status stream shown.
	StreamVersion int64 `json:"streamVersion"`
}

// localeWatch is one locale of a statusWatch.
type localeWatch struct {
	Locale    string `json:"locale"`
	Completed bool   `json:"completed"`
	// Message is the latest status event's message about the locale.
	Message string `json:"message,omitempty"`
	Error   bool   `json:"error,omitempty"`
}

// locale returns the locale named name, adding it when it is new.
func (v *statusWatch) locale(name string) *localeWatch {
	for i := range v.Locales {
		if v.Locales[i].Locale == name {
			return &v.Locales[i]
		}
	}
	v.Locales = append(v.Locales, localeWatch{Locale: name})
	return &v.Locales[len(v.Locales)-1]
}

// apply folds one event of the status stream into the view.
func (v *statusWatch) apply(e domain.Event) {
	switch e := e.(type) {
	case domain.StatusStarted:
		v.Started = true
		v.LocaleCount = max(e.LocaleCount, len(e.Locales))
		for _, l := range e.Locales {
			v.locale(l)
		}
	case domain.StatusEventRecorded:
		if e.Locale == "" {
			v.Message = e.Message
		} else {
			l := v.locale(e.Locale)
			l.Message, l.Error = e.Message, l.Error || e.Error
		}
		if e.Error {
			v.Error = true
			v.ErrorMessage = strings.TrimPrefix(e.Locale+": "+e.Message, ": ")
		}
	case domain.LocaleCompleted:
		v.locale(e.Locale).Completed = true
		v.Completed, v.Total = e.Count, e.Total
	case domain.StatusCompleted:
		v.Complete = true
	case domain.StatusErrored:
		v.Error = true
	}
}

// applyRecords folds records of the status stream into the view.
func (v *statusWatch) applyRecords(recs []eventstore.Record) error {
	return foldRecords(recs, v.apply, &v.StreamVersion)
}

// statusBarWidth is the number of cells of each bar of the status frame.
const statusBarWidth = 30

// frame draws the view for a terminal: a bar per locale and the total.
func (v *statusWatch) frame(color bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s in %s\n", v.Pkg, v.Version, v.Env)
	if !v.Started {
		b.WriteString(paint(color, colorDim, "waiting for the build to start…") + "\n")
		return b.String()
	}
	width := len("total")
	for _, l := range v.Locales {
		width = max(width, len(l.Locale))
	}
	for _, l := range v.Locales {
		fill, state, code := 0.0, "      ", ""
		switch {
		case l.Error:
			state, code = "error ", colorRed
		case l.Completed:
			fill, state, code = 1, "done  ", colorGreen
		}
		fmt.Fprintf(&b, "%-*s %s %s %s\n", width, l.Locale, paint(color, code, bar(fill, statusBarWidth)), paint(color, code, state), l.Message)
	}
	count := v.LocaleCount
	if count == 0 {
		count = len(v.Locales)
	}
	code, state := "", ""
	switch {
	case v.Error:
		code, state = colorRed, "error: "+v.ErrorMessage
	case v.Complete:
		code, state = colorGreen, "complete"
	default:
		state = v.Message
	}
	fmt.Fprintf(&b, "%-*s %s %3.0f%% %d/%d %s\n", width, "total", paint(color, code, bar(v.Total/100, statusBarWidth)), v.Total, v.Completed, count, paint(color, code, state))
	return b.String()
}

func newStatusWatchCommand(s *settings) *cobra.Command {
	var pkg, env, version string
	cmd := &cobra.Command{
		Use:   "watch --pkg P --env E --version V",
		Short: "Follow a package build: a progress bar per locale and the total, until it completes or fails",
		Long: `Follow the build of a package version as it happens: a progress bar per locale (with the
latest status message about it) and the total. On a terminal the bars are redrawn in place;
piped, or with -o json, every change is one JSON object on a line of its own.

It exits 0 when the build completes, 1 when an error event is recorded (the error is
printed) and 130 when interrupted. A version not started yet is waited for.

` + watchLatencyHelp,
		Args: cobra.NoArgs,
		RunE: withBackend(s, func(cmd *cobra.Command, b *backend) error {
			ctx, stream := cmd.Context(), domain.StatusStreamID(pkg, env, version)
			out := s.watchOutput(cmd)
			view := &statusWatch{Pkg: pkg, Env: env, Version: version, Locales: []localeWatch{}}
			recs, err := b.app.Events.Load(ctx, stream, 1)
			if err != nil {
				return fmt.Errorf("read %s: %w", stream, err)
			}
			if len(recs) > 0 {
				if err := view.applyRecords(recs); err != nil {
					return err
				}
			}
			if err := out.show(view, view.frame); err != nil {
				return err
			}
			if !view.Complete && !view.Error {
				err = b.followStream(ctx, stream, view.StreamVersion, func(recs []eventstore.Record) (bool, error) {
					if err := view.applyRecords(recs); err != nil {
						return false, err
					}
					return view.Complete || view.Error, out.show(view, view.frame)
				})
				if err != nil {
					return err
				}
			}
			if view.Error {
				return &exitError{code: exitRejected, err: errors.New("the build of " + pkg + "@" + version + " in " + env + " failed: " + view.ErrorMessage)}
			}
			return nil
		}),
	}
	statusKey(cmd, &pkg, &env, &version)
	return cmd
}
