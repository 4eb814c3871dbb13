package feed_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/internal/feed"
)

// base is the time of the crafted logs; the readers' clock stands far after it unless a
// test says otherwise.
var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// log is an event store's time index: records in key order, read a page at a time.
type log struct {
	mu   sync.Mutex
	recs []eventstore.Record
}

func (l *log) add(stream string, version int64, at time.Duration) eventstore.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := eventstore.Record{Stream: stream, Version: version, Key: eventstore.FirstKeyAt(base.Add(at)), Type: "Tested"}
	l.recs = append(l.recs, r)
	sort.Slice(l.recs, func(i, j int) bool { return l.recs[i].Key < l.recs[j].Key })
	return r
}

func (l *log) ReadAll(_ context.Context, after string, limit int) (eventstore.Page, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	page := eventstore.Page{}
	for _, r := range l.recs {
		if r.Key <= after {
			continue
		}
		if len(page.Records) == limit {
			page.Next = page.Records[len(page.Records)-1].Key
			break
		}
		page.Records = append(page.Records, r)
	}
	return page, nil
}

// outOfOrder is a log written by workers whose clocks differ by up to a second: each
// stream's versions come in increasing time, but some carry earlier keys than the version
// before them.
func outOfOrder() *log {
	l := &log{}
	ms := time.Millisecond
	l.add("lock:a", 1, 0)
	l.add("lock:a", 2, 900*ms) // a fast clock
	l.add("lock:a", 3, 100*ms) // a slow one, after 2 in time
	l.add("repo:x/y", 1, 50*ms)
	l.add("repo:x/y", 2, 40*ms)
	l.add("repo:x/y", 3, 30*ms)
	l.add("status:p/e/1", 1, 2000*ms)
	l.add("lock:a", 4, 1500*ms)
	l.add("lock:a", 5, 1400*ms)
	l.add("put:k", 1, 1450*ms)
	l.add("lock:b", 1, 3000*ms)
	l.add("lock:b", 2, 2990*ms)
	return l
}

func newReader(t *testing.T, src feed.Source, now time.Time, pageSize int) *feed.Reader {
	t.Helper()
	r, err := feed.New(feed.Config{Events: src, Now: func() time.Time { return now }, Settle: 3 * time.Second,
		Reorder: 2 * time.Second, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func names(items []feed.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprintf("%s@%d", it.Record.Stream, it.Record.Version))
	}
	return out
}

// checkExactlyOnceInOrder fails unless items hold every record of want once, each stream in
// version order.
func checkExactlyOnceInOrder(t *testing.T, items []feed.Item, want []eventstore.Record) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int64{}
	for _, it := range items {
		if seen[it.Record.Key] {
			t.Errorf("%s@%d arrived twice", it.Record.Stream, it.Record.Version)
		}
		seen[it.Record.Key] = true
		if it.Record.Version != last[it.Record.Stream]+1 {
			t.Errorf("%s@%d arrived after version %d", it.Record.Stream, it.Record.Version, last[it.Record.Stream])
		}
		last[it.Record.Stream] = it.Record.Version
	}
	for _, r := range want {
		if !seen[r.Key] {
			t.Errorf("%s@%d never arrived", r.Stream, r.Version)
		}
	}
}

func TestRead_GivenStreamsKeyedOutOfOrderWithinTheReorderWindow_WhenReadFromTheStart_ThenEachEventOnceAndEachStreamInVersionOrder(t *testing.T) {
	for _, pageSize := range []int{1, 2, 5, 500} {
		t.Run(fmt.Sprintf("pages of %d", pageSize), func(t *testing.T) {
			l := outOfOrder()
			items, _, err := newReader(t, l, base.Add(time.Hour), pageSize).Read(context.Background(), feed.Cursor{}, feed.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			checkExactlyOnceInOrder(t, items, l.recs)
			t.Logf("feed order: %v", names(items))
		})
	}
}

func TestRead_GivenTheCursorOfEveryEvent_WhenResumedFromIt_ThenExactlyTheEventsAfterIt(t *testing.T) {
	l := outOfOrder()
	r := newReader(t, l, base.Add(time.Hour), 2)
	all, _, err := r.Read(context.Background(), feed.Cursor{}, feed.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range all {
		id := it.Cursor.String()
		cur, err := feed.ParseCursor(id)
		if err != nil {
			t.Fatalf("cursor %q of item %d: %v", id, i, err)
		}
		rest, _, err := r.Read(context.Background(), cur, feed.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := names(rest), names(all[i+1:]); !slices.Equal(got, want) {
			t.Errorf("resumed from %q (after %s@%d): got %v, want %v", id, it.Record.Stream, it.Record.Version, got, want)
		}
	}
}

func TestRead_GivenEventsNewerThanTheWindows_WhenRead_ThenTheyWaitAndArriveLaterOnce(t *testing.T) {
	l := outOfOrder()
	now := base.Add(3*time.Second + 2*time.Second + 1500*time.Millisecond) // settle + reorder + 1.5 s
	first, cur, err := newReader(t, l, now, 3).Read(context.Background(), feed.Cursor{}, feed.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range first {
		if at, _ := eventstore.ParseKey(it.Record.Key); at.After(base.Add(1500*time.Millisecond)) && it.Cursor.Position >= it.Record.Key {
			t.Errorf("%s@%d keyed %s arrived before it was older than settle and reorder", it.Record.Stream, it.Record.Version, it.Record.Key)
		}
	}
	l.add("lock:a", 6, 1700*time.Millisecond) // committed late, keyed before the mark's reach
	rest, _, err := newReader(t, l, base.Add(time.Hour), 3).Read(context.Background(), cur, feed.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	checkExactlyOnceInOrder(t, append(first, rest...), l.recs)
}

func TestRead_GivenAFilter_ThenOnlyItsStreamsInOrder(t *testing.T) {
	tests := []struct {
		name   string
		filter feed.Filter
		want   []string
	}{
		{"given kinds lock then lock streams", feed.Filter{Kinds: []string{"lock"}},
			[]string{"lock:a@1", "lock:a@2", "lock:a@3", "lock:a@4", "lock:a@5", "lock:b@1", "lock:b@2"}},
		{"given a stream then that stream", feed.Filter{Stream: "repo:x/y"}, []string{"repo:x/y@1", "repo:x/y@2", "repo:x/y@3"}},
		{"given kinds put and status then those", feed.Filter{Kinds: []string{"status", "put"}}, []string{"put:k@1", "status:p/e/1@1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, _, err := newReader(t, outOfOrder(), base.Add(time.Hour), 500).Read(context.Background(), feed.Cursor{}, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(items); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseCursor(t *testing.T) {
	k1, k2, k3 := eventstore.FirstKeyAt(base), eventstore.FirstKeyAt(base.Add(time.Second)), eventstore.FirstKeyAt(base.Add(2*time.Second))
	good := []string{"", k1, k1 + "." + k2, k1 + "." + k2 + "." + k3}
	for _, s := range good {
		t.Run("given "+s+" then it reads back", func(t *testing.T) {
			c, err := feed.ParseCursor(s)
			if err != nil {
				t.Fatal(err)
			}
			if c.String() != s {
				t.Errorf("String() = %q, want %q", c.String(), s)
			}
		})
	}
	bad := []string{"yesterday", k1 + ".", k2 + "." + k1, k1 + "." + k3 + "." + k2, k1 + "." + k1, k1 + "," + k2}
	for _, s := range bad {
		t.Run("given "+s+" then an error", func(t *testing.T) {
			if _, err := feed.ParseCursor(s); err == nil {
				t.Errorf("ParseCursor(%q) accepted it", s)
			}
		})
	}
}

func TestFollow_GivenEventsAppendedWhileFollowing_ThenEachArrivesOnceInOrder(t *testing.T) {
	l := &log{}
	var mu sync.Mutex
	clock := base
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	r, err := feed.New(feed.Config{Events: l, Now: now, Settle: time.Second, Reorder: time.Second, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan feed.Item, 100)
	done := make(chan error, 1)
	go func() {
		done <- r.Follow(ctx, feed.Cursor{}, feed.Filter{}, func(it feed.Item) error { got <- it; return nil })
	}()
	var want []eventstore.Record
	for i := range 20 {
		mu.Lock()
		clock = base.Add(time.Duration(i) * 100 * time.Millisecond)
		mu.Unlock()
		// Each stream's odd versions are keyed 350 ms early, before the even version before them.
		version := int64(i/3 + 1)
		want = append(want, l.add(fmt.Sprintf("lock:%d", i%3), version, time.Duration(i)*100*time.Millisecond-time.Duration(version%2)*350*time.Millisecond))
	}
	mu.Lock()
	clock = base.Add(time.Minute)
	mu.Unlock()
	var items []feed.Item
	for len(items) < len(want) {
		select {
		case it := <-got:
			items = append(items, it)
		case err := <-done:
			t.Fatalf("Follow stopped: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("after 10s, %d of %d events arrived", len(items), len(want))
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Follow = %v, want context.Canceled", err)
	}
	checkExactlyOnceInOrder(t, items, want)
}
