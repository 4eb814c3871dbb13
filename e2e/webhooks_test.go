package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"buildledger/domain"
	"buildledger/internal/feed"
	"buildledger/internal/webhooks"
)

// hookReceiver is a webhook receiver on 127.0.0.1: it verifies every signature, records
// every request it gets, and answers slowly. Once it has acknowledged holdAfter events it
// holds every further request unanswered, until the request is abandoned or release is
// called, so that the worker can be killed while a delivery is in flight.
type hookReceiver struct {
	secret    string
	delay     time.Duration
	holdAfter int

	mu       sync.Mutex
	phase    int // 0 before the kill, 1 after
	received []hookRequest
	acked    map[string]bool // event keys answered 2xx
	held     int             // requests being held now
	heldKeys map[string]bool // events of the requests held
	bad      []string        // requests that failed verification
	released chan struct{}
}

// hookRequest is one request the receiver got.
type hookRequest struct {
	phase      int
	deliveryID string
	key        string
	stream     string
	version    int64
}

func newHookReceiver(secret string, delay time.Duration, holdAfter int) *hookReceiver {
	return &hookReceiver{secret: secret, delay: delay, holdAfter: holdAfter, acked: map[string]bool{},
		heldKeys: map[string]bool{}, released: make(chan struct{})}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	id := r.Header.Get(webhooks.HeaderDelivery)
	var p webhooks.Payload
	problem := ""
	if err := webhooks.Verify(h.secret, r.Header.Get(webhooks.HeaderTimestamp), r.Header.Get(webhooks.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		problem = err.Error()
	} else if err := json.Unmarshal(body, &p); err != nil {
		problem = "body: " + err.Error()
	} else if p.Subscription != "hook" || p.DeliveryID != id || id != webhooks.DeliveryID("hook", p.Event.Key) {
		problem = fmt.Sprintf("subscription %q, delivery id %q in the body and %q in the header, event key %q", p.Subscription, p.DeliveryID, id, p.Event.Key)
	}
	h.mu.Lock()
	if problem != "" {
		h.bad = append(h.bad, fmt.Sprintf("delivery %q: %s", id, problem))
		h.mu.Unlock()
		http.Error(w, problem, http.StatusUnauthorized)
		return
	}
	h.received = append(h.received, hookRequest{phase: h.phase, deliveryID: id, key: p.Event.Key, stream: p.Event.Stream, version: p.Event.Version})
	hold := h.phase == 0 && len(h.acked) >= h.holdAfter
	if hold {
		h.held++
		h.heldKeys[p.Event.Key] = true
	}
	h.mu.Unlock()

	if hold {
		select {
		case <-r.Context().Done():
		case <-h.released:
		}
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
		http.Error(w, "held", http.StatusServiceUnavailable)
		return
	}
	select {
	case <-r.Context().Done():
		return
	case <-time.After(h.delay):
	}
	h.mu.Lock()
	h.acked[p.Event.Key] = true
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// holding reports whether a request is being held now.
func (h *hookReceiver) holding() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held > 0
}

// killed marks the requests that come from now on as sent after the kill, and lets the
// held requests go.
func (h *hookReceiver) killed() {
	h.mu.Lock()
	h.phase = 1
	h.mu.Unlock()
	close(h.released)
}

func (h *hookReceiver) ackedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.acked)
}

// missing returns the keys of want not acknowledged yet.
func (h *hookReceiver) missing(want []lockEvent) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range want {
		if !h.acked[e.rec.Key] {
			out = append(out, e.rec.Key)
		}
	}
	return out
}

// A worker SIGKILLed in the middle of a delivery loses nothing and repeats almost nothing:
// the next worker takes the subscription over once the dead one's lease runs out, resumes
// from the stored checkpoint, sends again the event that was in flight, and delivers the
// rest, each stream in order, every request signed.
func TestWebhooks_GivenAWorkerKilledWithSIGKILLMidDelivery_WhenANewWorkerStarts_ThenDeliveryResumesFromTheCheckpoint(t *testing.T) {
	t.Parallel()
	in := newInstallation(t, "e2e-webhooks-kill")
	const (
		secret    = "e2e-webhook-secret"
		holdAfter = 6 // events acknowledged before the receiver holds the next delivery
		pairs     = 5 // lock and release commands per env
	)
	envs := []string{"alpha", "beta", "gamma"}
	recv := newHookReceiver(secret, 300*time.Millisecond, holdAfter)
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)

	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in.ok(t, "subscriptions", "add", "--name", "hook", "--url", srv.URL, "--secret-file", secretFile, "--kinds", domain.KindLock, "--from", "beginning")
	hookFlags := []string{"--webhook-lease", "4s", "--webhook-timeout", "2s", "--webhook-backoff-max", "1s", "--webhook-max-failures", "1000"}
	first := in.launchWorker(t, hookFlags...)

	// given ~30 lock commands on three envs, the events delivered as they come
	var wg sync.WaitGroup
	for _, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range pairs {
				for _, args := range [][]string{{"locks", "lock", "--env", env, "--user", "alice"}, {"locks", "release", "--env", env, "--user", "alice"}} {
					if r := in.run(t, args...); r.code != 0 {
						t.Errorf("want exit 0, got:\n%s", r)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		first.terminate(t)
		t.FailNow()
	}
	var events []lockEvent
	histories := map[string][]lockEvent{}
	for _, env := range envs {
		histories[env] = in.lockHistory(t, env)
		events = append(events, histories[env]...)
	}
	if len(events) <= holdAfter {
		t.Fatalf("%d lock events, want more than the %d delivered before the kill", len(events), holdAfter)
	}

	// when the worker is SIGKILLed while a delivery is in flight
	deadline := time.Now().Add(60 * time.Second)
	for !recv.holding() {
		if time.Now().After(deadline) {
			first.terminate(t)
			t.Fatalf("no delivery in flight within 60s; %d of %d events acknowledged", recv.ackedCount(), len(events))
		}
		time.Sleep(10 * time.Millisecond)
	}
	first.signal(t, syscall.SIGKILL)
	<-first.exited
	first.done = true
	first.logFile.Close()
	killed := time.Now()
	ackedBeforeKill := recv.ackedCount()
	recv.killed()
	second := in.launchWorker(t, hookFlags...)
	t.Cleanup(func() { second.terminate(t) })

	// then every event is delivered, the rest after the restart
	deadline = time.Now().Add(90 * time.Second)
	for {
		missing := recv.missing(events)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events not delivered 90s after the restart, e.g. %s", len(missing), len(events), missing[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	resumed := time.Since(killed)

	recv.mu.Lock()
	received := append([]hookRequest(nil), recv.received...)
	bad := append([]string(nil), recv.bad...)
	heldKeys := recv.heldKeys
	recv.mu.Unlock()
	for _, b := range bad {
		t.Errorf("signature or body not verified: %s", b)
	}

	// ... each stream's events first sent in version order, from 1 without a gap ...
	firstSeen := map[string]bool{}
	next := map[string]int64{}
	for _, r := range received {
		if firstSeen[r.key] {
			continue
		}
		firstSeen[r.key] = true
		if want := next[r.stream] + 1; r.version != want {
			t.Errorf("first delivery of %s@%d came when %s@%d was due", r.stream, r.version, r.stream, want)
		}
		next[r.stream] = r.version
	}
	for _, env := range envs {
		if got, want := next[domain.LockStreamID(env)], int64(len(histories[env])); got != want {
			t.Errorf("stream %s: delivered up to version %d, want %d", domain.LockStreamID(env), got, want)
		}
	}

	// ... and the new worker started from the checkpoint: it sent again only what was in flight
	before, again := map[string]bool{}, map[string]bool{}
	for _, r := range received {
		if r.phase == 0 {
			before[r.key] = true
		} else if before[r.key] {
			again[r.key] = true
		}
	}
	if len(again) > 3 {
		t.Errorf("%d events delivered before the kill were delivered again after the restart, want at most 3 (the checkpoint was not used)", len(again))
	}
	for key := range heldKeys {
		if !again[key] {
			t.Errorf("event %s was in flight at the kill but not delivered again after the restart", key)
		}
	}

	lastKey := ""
	for _, e := range events {
		lastKey = max(lastKey, e.rec.Key)
	}
	var subs []struct {
		Name       string `json:"name"`
		State      string `json:"state"`
		Checkpoint string `json:"checkpoint"`
		Failures   int    `json:"failures"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		in.okJSON(t, &subs, "subscriptions", "list")
		if len(subs) != 1 {
			t.Fatalf("subscriptions list shows %d subscriptions, want 1: %+v", len(subs), subs)
		}
		cp, err := feed.ParseCursor(subs[0].Checkpoint)
		if err != nil {
			t.Fatalf("subscriptions list: checkpoint %q: %v", subs[0].Checkpoint, err)
		}
		if cp.Position == lastKey {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint %q, want at the last event %s", subs[0].Checkpoint, lastKey)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if subs[0].Name != "hook" || subs[0].State != "active" || subs[0].Failures != 0 {
		t.Errorf("subscriptions list shows %+v, want hook active without failures", subs[0])
	}

	againKeys := make([]string, 0, len(again))
	for k := range again {
		againKeys = append(againKeys, k)
	}
	sort.Strings(againKeys)
	t.Logf("%d lock events on %d streams; %d acknowledged before the SIGKILL, %d requests in all; %d delivered again after the restart %v; all delivered %s after the kill",
		len(events), len(envs), ackedBeforeKill, len(received), len(again), againKeys, resumed.Round(time.Millisecond))
}
