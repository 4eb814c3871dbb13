package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"buildledger/domain"
	"buildledger/internal/app"
	"buildledger/projections"
)

func TestStatusWatch_GivenTheEventsOfABuild_WhenFolded_ThenLocalesTotalAndEndAreShown(t *testing.T) {
	tests := []struct {
		name         string
		events       []domain.Event
		wantFrame    []string
		wantComplete bool
		wantError    string
	}{
		{
			name: "given one of two locales completed, when folded, then half the total and the message beside its locale",
			events: []domain.Event{
				domain.StatusStarted{Locales: []string{"en-US", "fr-FR"}},
				domain.StatusEventRecorded{Locale: "fr-FR", Message: "compiling"},
				domain.LocaleCompleted{Locale: "en-US", Count: 1, Total: 50},
			},
			wantFrame: []string{"en-US [" + strings.Repeat("█", statusBarWidth) + "] done", "fr-FR [" + strings.Repeat("░", statusBarWidth) + "]        compiling", " 50% 1/2"},
		},
		{
			name: "given every locale completed, when folded, then complete",
			events: []domain.Event{
				domain.StatusStarted{LocaleCount: 1},
				domain.LocaleCompleted{Locale: "en-US", Count: 1, Total: 100},
				domain.StatusCompleted{},
			},
			wantFrame:    []string{"100% 1/1 complete"},
			wantComplete: true,
		},
		{
			name: "given an error event, when folded, then the error with its locale",
			events: []domain.Event{
				domain.StatusStarted{Locales: []string{"en-US"}},
				domain.StatusEventRecorded{Locale: "en-US", Message: "boom", Error: true},
				domain.StatusErrored{},
			},
			wantFrame: []string{"en-US [" + strings.Repeat("░", statusBarWidth) + "] error  boom", "error: en-US: boom"},
			wantError: "en-US: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &statusWatch{Pkg: "ui", Env: "dev", Version: "1.0.0"}
			for _, e := range tt.events {
				v.apply(e)
			}
			frame := v.frame(false)
			for _, want := range tt.wantFrame {
				if !strings.Contains(frame, want) {
					t.Errorf("frame lacks %q:\n%s", want, frame)
				}
			}
			if v.Complete != tt.wantComplete || v.ErrorMessage != tt.wantError || v.Error != (tt.wantError != "") {
				t.Errorf("got complete %v, error %v %q; want complete %v, error %q", v.Complete, v.Error, v.ErrorMessage, tt.wantComplete, tt.wantError)
			}
		})
	}
}

func TestWatchOutput_GivenSuccessiveStates_WhenShown_ThenEachChangeOnceRedrawnOrOneJSONLine(t *testing.T) {
	frame := func(text string) func(bool) string { return func(bool) string { return text } }
	t.Run("given a terminal, when a second frame is shown, then the cursor goes back over the first", func(t *testing.T) {
		var buf bytes.Buffer
		o := &watchOutput{w: &buf, redraw: true}
		_ = o.show(nil, frame("a\nb\n"))
		_ = o.show(nil, frame("a\nb\n"))
		_ = o.show(nil, frame("a\nc\n"))
		if got, want := buf.String(), "a\nb\n\x1b[2A\r\x1b[Ja\nc\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("given JSON, when states are shown, then one line per change", func(t *testing.T) {
		var buf bytes.Buffer
		o := &watchOutput{w: &buf, json: true}
		for _, v := range []int{1, 1, 2} {
			_ = o.show(map[string]int{"v": v}, frame(""))
		}
		if got, want := buf.String(), "{\"v\":1}\n{\"v\":2}\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestCutLines_GivenLinesWiderThanTheTerminal_WhenCut_ThenColoursTakeNoRoom(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"given a short line, when cut, then unchanged", "abc\n", "abc\n"},
		{"given a long line, when cut, then width characters", "abcdef\nxy\n", "abcd\nxy\n"},
		{"given a coloured long line, when cut, then the colour is reset", "\x1b[32mabcdef\x1b[0m", "\x1b[32mabcd\x1b[0m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cutLines(tt.in, 4); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWatchOutput_GivenAPipe_WhenMade_ThenJSONUnlessATableIsAskedForAndNeverARedraw(t *testing.T) {
	tests := []struct {
		name, output string
		wantJSON     bool
	}{
		{"given auto on a pipe, when made, then JSON lines", "auto", true},
		{"given -o json, when made, then JSON lines", "json", true},
		{"given -o table on a pipe, when made, then frames one after another", "table", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := &cobra.Command{}
			cmd.SetOut(&bytes.Buffer{})
			o := (&settings{Output: tt.output}).watchOutput(cmd)
			if o.json != tt.wantJSON || o.redraw || o.color || o.width != 0 {
				t.Errorf("got json %v, redraw %v, color %v, width %d; want json %v and no redraw, colour or width", o.json, o.redraw, o.color, o.width, tt.wantJSON)
			}
		})
	}
}

func TestWatchReader_GivenAClockTolerance_WhenMade_ThenTheAPIFeedsSettleWindowWithoutItsReorderWindow(t *testing.T) {
	b := &backend{s: &settings{Clock: clockSettings{Tolerance: 2 * time.Second}}, app: &app.App{}}
	api, err := b.s.Clock.feedReader(b.app.Events)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.watchReader()
	if err != nil {
		t.Fatal(err)
	}
	got, want := r.Config(), api.Config()
	if got.Settle != want.Settle || got.PageSize != want.PageSize || got.Reorder != time.Nanosecond || got.PollInterval != watchPollInterval {
		t.Errorf("got settle %v, page %d, reorder %v, poll %v; want settle %v, page %d, reorder 1ns, poll %v",
			got.Settle, got.PageSize, got.Reorder, got.PollInterval, want.Settle, want.PageSize, watchPollInterval)
	}
	if want.Settle <= 2*time.Second {
		t.Errorf("the API feed settles for %v, less than the tolerance", want.Settle)
	}
}

// A browser the build did not list when it was created takes its place in name order, as the
// build's row keeps it: builds watch shows the matrix builds get shows.
func TestBuildWatch_GivenAnUpdateOfANewBrowser_ThenTheMatrixIsTheRowsMatrix(t *testing.T) {
	v := &buildWatch{build: projections.Build{RepoID: "acme/app", BuildID: 1, Pending: 2, Browsers: []projections.BrowserStatus{
		{Name: "chrome", Status: domain.StatusQueued, Pending: true}, {Name: "firefox", Status: domain.StatusQueued, Pending: true},
	}}}
	v.apply(domain.BuildBrowserUpdated{User: "acme", Repo: "app", BuildID: 1, Browser: "edge", Status: "started", BrowserPending: true, Pending: 3})
	var names []string
	for _, b := range v.build.Browsers {
		names = append(names, b.Name)
	}
	if got := strings.Join(names, ","); got != "chrome,edge,firefox" || v.build.Pending != 3 {
		t.Errorf("browsers %s, pending %d; want chrome,edge,firefox (name order, as the row), pending 3", got, v.build.Pending)
	}
}
