package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"buildledger/eventstore"
	esmemory "buildledger/eventstore/memory"
	"buildledger/internal/feed"
	"buildledger/internal/httpapi"
	"buildledger/projections"
	projmemory "buildledger/projections/memory"
)

func init() {
	// The feed's 200 is a stream of server-sent events: the contract checks it as text.
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
}

// streamingFeed is a feed that sends every event at once (no settle or reorder window: the
// in-memory store has one clock and no index to wait for) and ends each stream after
// maxAge, so that a test reading a whole answer gets one.
func streamingFeed(t testing.TB, events feed.Source, maxAge time.Duration) httpapi.FeedConfig {
	t.Helper()
	r, err := feed.New(feed.Config{Events: events, Settle: time.Nanosecond, Reorder: time.Nanosecond, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return httpapi.FeedConfig{Reader: r, MaxAge: maxAge}
}

// sse is one server-sent event.
type sse struct {
	id, event, data string
}

// sseReader reads server-sent events, skipping comments.
type sseReader struct {
	r        *bufio.Reader
	comments []string
}

func (s *sseReader) next() (sse, error) {
	var ev sse
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
			s.comments = append(s.comments, line)
		default:
			field, value, _ := strings.Cut(line, ": ")
			switch field {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data = value
			}
		}
	}
}

// appendEvents appends n events to each of streams, round robin, each with a body of pad
// bytes of text, and returns them in append order.
func appendEvents(t testing.TB, store *esmemory.Store, streams []string, n, pad int) []eventstore.Record {
	t.Helper()
	var all []eventstore.Record
	body, _ := json.Marshal(map[string]string{"pad": strings.Repeat("x", pad)})
	for i := range n {
		for _, s := range streams {
			recs, err := store.Append(context.Background(), s, int64(i), []eventstore.Event{{Type: "Tested", Body: body}},
				eventstore.CommandRef{ID: fmt.Sprintf("%s-%d", s, i)})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, recs...)
		}
	}
	return all
}

func feedServer(t testing.TB, store *esmemory.Store, fc httpapi.FeedConfig) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Reads: projections.NewQueries(projmemory.New()), Events: store, Feed: fc}))
	t.Cleanup(srv.Close)
	return srv
}

// openFeed asks for the feed with an optional Last-Event-ID.
func openFeed(t testing.TB, ctx context.Context, url, lastID string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readFeed reads n events of resp's stream.
func readFeed(t testing.TB, resp *http.Response, n int) []sse {
	t.Helper()
	r := &sseReader{r: bufio.NewReader(resp.Body)}
	var got []sse
	for len(got) < n {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(got), n, err)
		}
		got = append(got, ev)
	}
	return got
}

func decode(t testing.TB, ev sse) eventstore.Record {
	t.Helper()
	var rec eventstore.Record
	if err := json.Unmarshal([]byte(ev.data), &rec); err != nil {
		t.Fatalf("data %q: %v", ev.data, err)
	}
	if ev.event != rec.Type {
		t.Errorf("event: %q, want the type %q", ev.event, rec.Type)
	}
	return rec
}

func TestFeed_GivenAReaderKilledMidStream_WhenItReconnectsWithLastEventID_ThenNothingIsLostOrRepeated(t *testing.T) {
	store := esmemory.New()
	want := appendEvents(t, store, []string{"lock:a", "lock:b", "repo:x/y", "job:j/1"}, 25, 10)
	srv := feedServer(t, store, streamingFeed(t, store, 0))
	ctx, cancel := context.WithCancel(context.Background())
	first := openFeed(t, ctx, srv.URL+"/v1/feed", "")
	if first.StatusCode != http.StatusOK || first.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /v1/feed = %d %s", first.StatusCode, first.Header.Get("Content-Type"))
	}
	got := readFeed(t, first, 37)
	cancel() // the reader dies mid-stream
	first.Body.Close()

	second := openFeed(t, context.Background(), srv.URL+"/v1/feed", got[len(got)-1].id)
	defer second.Body.Close()
	got = append(got, readFeed(t, second, len(want)-len(got))...)
	for i, ev := range got {
		if rec := decode(t, ev); rec.Key != want[i].Key {
			t.Fatalf("event %d is %s@%d, want %s@%d", i, rec.Stream, rec.Version, want[i].Stream, want[i].Version)
		}
	}
}

func TestFeed_GivenKindsStreamOrAfter_ThenOnlyThoseEvents(t *testing.T) {
	store := esmemory.New()
	all := appendEvents(t, store, []string{"lock:a", "repo:x/y", "job:j/1"}, 3, 10)
	srv := feedServer(t, store, streamingFeed(t, store, 0))
	tests := []struct {
		name, query string
		want        []eventstore.Record
	}{
		{"given kinds lock,job then lock and job events", "?kinds=lock,job", []eventstore.Record{all[0], all[2], all[3], all[5], all[6], all[8]}},
		{"given a stream then its events", "?stream=repo:x/y", []eventstore.Record{all[1], all[4], all[7]}},
		{"given after a key then the events after it", "?after=" + all[5].Key, all[6:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := openFeed(t, context.Background(), srv.URL+"/v1/feed"+tt.query, "")
			defer resp.Body.Close()
			for i, ev := range readFeed(t, resp, len(tt.want)) {
				if rec := decode(t, ev); rec.Key != tt.want[i].Key {
					t.Errorf("event %d is %s@%d, want %s@%d", i, rec.Stream, rec.Version, tt.want[i].Stream, tt.want[i].Version)
				}
			}
		})
	}
}

func TestFeed_GivenBadParameters_ThenAnswer400NamingTheParameter(t *testing.T) {
	store := esmemory.New()
	srv := feedServer(t, store, streamingFeed(t, store, 0))
	tests := []struct{ name, query, lastID, param string }{
		{"given an unknown kind", "?kinds=lock,branch", "", "kinds"},
		{"given an empty kind", "?kinds=lock,", "", "kinds"},
		{"given after no cursor", "?after=yesterday", "", "after"},
		{"given a Last-Event-ID that is no cursor", "", "20261121T1200", "Last-Event-ID"},
		{"given a stream of an unknown kind", "?stream=branch:x", "", "stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := openFeed(t, context.Background(), srv.URL+"/v1/feed"+tt.query, tt.lastID)
			defer resp.Body.Close()
			var body struct{ Parameter string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != http.StatusBadRequest || body.Parameter != tt.param {
				t.Errorf("= %d naming %q, want 400 naming %q", resp.StatusCode, body.Parameter, tt.param)
			}
		})
	}
}

func TestFeed_GivenAnIdleStream_ThenHeartbeatsKeepItOpen(t *testing.T) {
	store := esmemory.New()
	fc := streamingFeed(t, store, 0)
	fc.Heartbeat = 10 * time.Millisecond
	srv := feedServer(t, store, fc)
	resp := openFeed(t, context.Background(), srv.URL+"/v1/feed", "")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	for beats := 0; beats < 3; {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": heartbeat\n" {
			beats++
		}
	}
}

func TestFeed_GivenMaxClientsStreaming_WhenOneMoreAsks_ThenAnswer503(t *testing.T) {
	store := esmemory.New()
	fc := streamingFeed(t, store, 0)
	fc.MaxClients = 2
	srv := feedServer(t, store, fc)
	for range 2 {
		resp := openFeed(t, context.Background(), srv.URL+"/v1/feed", "")
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("client within the bound = %d", resp.StatusCode)
		}
	}
	resp := openFeed(t, context.Background(), srv.URL+"/v1/feed", "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("client beyond the bound = %d, want 503", resp.StatusCode)
	}
}

func TestFeed_Given50ClientsAndOneThatNeverReads_ThenThe50GetEverythingTheStuckOneIsDroppedAndMemoryStaysBounded(t *testing.T) {
	store := esmemory.New()
	// 2,000 events of 8 KB (16 MB, more than the socket buffers hold) on repo streams, and
	// 100 small lock events that the 50 clients follow.
	appendEvents(t, store, []string{"repo:x/1", "repo:x/2"}, 1000, 8<<10)
	locks := appendEvents(t, store, []string{"lock:a", "lock:b"}, 50, 10)
	fc := streamingFeed(t, store, 0)
	// Room for the 50 and the stuck one: one more client gets in only once the stuck one
	// is dropped.
	fc.MaxClients, fc.Buffer, fc.WriteTimeout = 51, 64, 200*time.Millisecond
	srv := feedServer(t, store, fc)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	stuck, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	_ = stuck.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := fmt.Fprintf(stuck, "GET /v1/feed HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}

	var read sync.WaitGroup
	release := make(chan struct{})
	for c := range 50 {
		read.Add(1)
		go func() {
			resp := openFeed(t, context.Background(), srv.URL+"/v1/feed?kinds=lock", "")
			defer resp.Body.Close()
			defer func() { <-release }() // stay connected until the stuck client is checked
			defer read.Done()
			for i, ev := range readFeed(t, resp, len(locks)) {
				if rec := decode(t, ev); rec.Key != locks[i].Key {
					t.Errorf("client %d: event %d is %s@%d, want %s@%d", c, i, rec.Stream, rec.Version, locks[i].Stream, locks[i].Version)
					return
				}
			}
		}()
	}
	read.Wait()
	defer close(release)

	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	t.Logf("heap %d MB before, %d MB with 51 clients", before.HeapAlloc>>20, during.HeapAlloc>>20)
	if grew := int64(during.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
		t.Errorf("the heap grew by %d MB with 51 clients: memory is not bounded", grew>>20)
	}

	// The stuck client's slot comes free: the server dropped it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := openFeed(t, context.Background(), srv.URL+"/v1/feed?kinds=job", "")
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s, one more client is still refused (%d): the stuck client was never dropped", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And what reached it is a fraction of the feed: the rest was never buffered for it.
	_ = stuck.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _ := io.Copy(io.Discard, stuck)
	t.Logf("the stuck client was dropped; %d bytes reached it", n)
	if n >= 16<<20 {
		t.Errorf("the stuck client received all %d bytes: it was buffered, not dropped", n)
	}
}

func TestFeed_GivenAServerWriteTimeoutShorterThanTheStream_ThenTheStreamOutlivesIt(t *testing.T) {
	store := esmemory.New()
	fc := streamingFeed(t, store, 0)
	fc.Heartbeat = 20 * time.Millisecond
	srv := httptest.NewUnstartedServer(httpapi.New(httpapi.Config{Reads: projections.NewQueries(projmemory.New()), Events: store, Feed: fc}))
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	resp := openFeed(t, context.Background(), srv.URL+"/v1/feed", "")
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	started := time.Now()
	for time.Since(started) < time.Second {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("the stream ended %v after it started, past the server's write timeout of 200ms: %v", time.Since(started).Round(time.Millisecond), err)
		}
	}
}

func TestFeedKinds_ThenTheKindsTheContractNames(t *testing.T) {
	if got, want := strings.Join(httpapi.FeedKinds, "|"), "repo|status|lock|job|put"; got != want {
		t.Errorf("FeedKinds = %s, want %s (the kinds of openapi.json's feedKinds)", got, want)
	}
}
