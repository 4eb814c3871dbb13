package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"buildledger/domain"
	"buildledger/eventstore"
	"buildledger/internal/feed"
	"buildledger/internal/settings"
)

// Defaults of FeedConfig.
const (
	// DefaultFeedClients is the most feed streams served at once.
	DefaultFeedClients = 32
	// DefaultFeedBuffer is the most events held for one client.
	DefaultFeedBuffer = 1024
	// DefaultFeedHeartbeat is the interval of the comment lines that keep an idle stream open.
	DefaultFeedHeartbeat = 15 * time.Second
	// DefaultFeedWriteTimeout bounds each write to a client.
	DefaultFeedWriteTimeout = 10 * time.Second
)

// FeedKinds are the stream kinds the kinds parameter of /v1/feed accepts: the domain's and
// that of the streams Put stores.
var FeedKinds = []string{domain.KindRepo, domain.KindStatus, domain.KindLock, domain.KindJob, domain.StreamKind(eventstore.PutStreamPrefix)}

// FeedConfig configures GET /v1/feed, the server-sent events of the global feed.
type FeedConfig struct {
	// Reader reads the feed; default a feed.Reader with feed's defaults on Config.Events,
	// with Config.Now as its clock.
	Reader *feed.Reader
	// MaxClients is the most streams served at once; default DefaultFeedClients. A client
	// beyond is answered 503.
	MaxClients int
	// Buffer is the most events held for one client; default DefaultFeedBuffer. A client
	// that leaves it full for WriteTimeout is dropped: it reconnects with Last-Event-ID, and
	// the feed is never buffered without bound for a client that does not read.
	Buffer int
	// Heartbeat is the interval of the comment lines sent on an idle stream; default
	// DefaultFeedHeartbeat.
	Heartbeat time.Duration
	// WriteTimeout bounds each write to a client, which is dropped when it passes; default
	// DefaultFeedWriteTimeout. It replaces the server's write timeout for a stream, which
	// outlives it.
	WriteTimeout time.Duration
	// MaxAge ends a stream after it, so that clients reconnect (with Last-Event-ID) and
	// spread over servers; 0 never ends one.
	MaxAge time.Duration
}

func (c *FeedConfig) setDefaults(events Events, now func() time.Time) {
	if c.Reader == nil && events != nil {
		c.Reader, _ = feed.New(feed.Config{Events: events, Now: now}) // valid: Events is set
	}
	settings.DefaultUnlessPositive(&c.MaxClients, DefaultFeedClients)
	settings.DefaultUnlessPositive(&c.Buffer, DefaultFeedBuffer)
	settings.DefaultUnlessPositive(&c.Heartbeat, DefaultFeedHeartbeat)
	settings.DefaultUnlessPositive(&c.WriteTimeout, DefaultFeedWriteTimeout)
}

// errClientBehind drops a client that fell more than FeedConfig.Buffer events behind.
var errClientBehind = errors.New("httpapi: feed client fell too far behind")

// feedParams reads the kinds, stream and after (or Last-Event-ID) of /v1/feed.
func feedParams(r *http.Request) (feed.Filter, feed.Cursor, error) {
	p := &params{r: r}
	var f feed.Filter
	if raw := r.URL.Query().Get("kinds"); raw != "" {
		for k := range strings.SplitSeq(raw, ",") {
			if !slices.Contains(FeedKinds, k) {
				p.fail("kinds", fmt.Sprintf("%q is not a stream kind; want a comma-separated list of %s", k, strings.Join(FeedKinds, ", ")))
			}
			f.Kinds = append(f.Kinds, k)
		}
	}
	f.Stream = p.stream("stream")
	name, raw := "after", r.URL.Query().Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		name, raw = "Last-Event-ID", id
	}
	cur, err := feed.ParseCursor(raw)
	if err != nil {
		p.fail(name, fmt.Sprintf("is not a feed cursor (the id of an event of the feed, or an event key such as %s)", exampleKey))
	}
	return f, cur, p.err
}

func (a *server) feed(w http.ResponseWriter, r *http.Request) {
	filter, cur, err := feedParams(r)
	if err != nil {
		a.answer(w, r, nil, err)
		return
	}
	select {
	case a.feedSlots <- struct{}{}:
		defer func() { <-a.feedSlots }()
	default:
		writeError(w, http.StatusServiceUnavailable, "", fmt.Sprintf("the feed serves %d clients at most; try again later", a.cfg.Feed.MaxClients))
		return
	}
	// Ask the store once before answering, so that a store that is down is a 500 rather
	// than a stream that ends at once.
	if _, err := a.cfg.Events.ReadAll(r.Context(), cur.Position, 1); err != nil {
		a.answer(w, r, nil, err)
		return
	}
	a.stream(w, r, filter, cur)
}

// stream follows the feed into a bounded buffer and writes it to the client as server-sent
// events until the client goes, falls behind, or MaxAge passes.
func (a *server) stream(w http.ResponseWriter, r *http.Request, filter feed.Filter, cur feed.Cursor) {
	cfg := a.cfg.Feed
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	if cfg.MaxAge > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cfg.MaxAge)
		defer stop()
	}
	items := make(chan feed.Item, cfg.Buffer)
	followed := make(chan error, 1)
	go func() {
		followed <- cfg.Reader.Follow(ctx, cur, filter, func(it feed.Item) error {
			select {
			case items <- it:
				return nil
			default:
			}
			// The buffer is full: the client has WriteTimeout to make room.
			wait := time.NewTimer(cfg.WriteTimeout)
			defer wait.Stop()
			select {
			case items <- it:
				return nil
			case <-wait.C:
				return errClientBehind
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() {
		cancel(nil)
		<-followed
	}()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(fn func() error) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		return fn() == nil && rc.Flush() == nil
	}
	if !write(func() error { _, err := fmt.Fprintf(w, "retry: 1000\n\n"); return err }) {
		return
	}
	heartbeat := time.NewTicker(cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case it := <-items:
			if !write(func() error { return writeEvents(w, it, items) }) {
				return
			}
		case <-heartbeat.C:
			if !write(func() error { _, err := fmt.Fprint(w, ": heartbeat\n\n"); return err }) {
				return
			}
		case err := <-followed:
			followed <- err // for the deferred wait
			a.feedEnded(w, r, err)
			return
		case <-ctx.Done():
			return
		}
	}
}

// writeEvents writes it and the events already waiting behind it, up to a buffer's worth.
func writeEvents(w http.ResponseWriter, it feed.Item, more <-chan feed.Item) error {
	for range cap(more) {
		if err := writeEvent(w, it.Record, it.Cursor.String()); err != nil {
			return err
		}
		select {
		case it = <-more:
		default:
			return nil
		}
	}
	return writeEvent(w, it.Record, it.Cursor.String())
}

// writeEvent writes one server-sent event: the event type, the record as JSON, and the
// cursor that resumes after it as the id.
func writeEvent(w http.ResponseWriter, rec eventstore.Record, id string) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", id, rec.Type, data)
	return err
}

// feedEnded tells the client, in a comment, why its stream ends early, and logs a failure.
func (a *server) feedEnded(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errClientBehind):
		_, _ = fmt.Fprintf(w, ": dropped: %d events behind for %s; reconnect with Last-Event-ID\n\n", a.cfg.Feed.Buffer, a.cfg.Feed.WriteTimeout)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	default:
		id := requestID(r.Context())
		if a.cfg.Logger != nil {
			a.cfg.Logger.Error().Err(err).Str("request_id", id).Str("path", r.URL.Path).Msg("feed stream failed")
		}
		_, _ = fmt.Fprintf(w, ": failed: internal error; see the server log for request %s\n\n", id)
	}
	_ = http.NewResponseController(w).Flush()
}
