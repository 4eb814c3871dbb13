// Package faults is an http.RoundTripper that makes AWS calls fail the way they fail in
// production — throttling, 500s, timeouts and connection resets, some before the request
// reaches the service and some after it was carried out (the response is lost) — at a set
// rate. Tests put it under the AWS SDK clients to show that every command still takes effect
// exactly once.
package faults

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Kind is a kind of injected failure.
type Kind int

// The kinds of failure the transport injects.
const (
	// Throttle answers 400 with the service's throttling error; the request is not sent.
	Throttle Kind = iota
	// ServerError answers 500; the request is not sent.
	ServerError
	// Timeout waits, then fails as a client timeout; the request is not sent.
	Timeout
	// ResetBefore fails with a connection reset before the request is sent.
	ResetBefore
	// ResetAfter sends the request, lets the service carry it out, then fails with a
	// connection reset: the caller cannot know that it succeeded.
	ResetAfter
	kinds
)

func (k Kind) String() string {
	return [...]string{"throttle", "server-error", "timeout", "reset-before", "reset-after"}[k]
}

// Config sets what the transport injects.
type Config struct {
	// Next carries requests that are not failed. Default http.DefaultTransport.
	Next http.RoundTripper
	// Rate is the share of requests that fail, from 0 to 1.
	Rate float64
	// Kinds are the failures to choose from, evenly. Default: all of them.
	Kinds []Kind
	// Seed makes the choice of failures repeatable.
	Seed uint64
	// TimeoutDelay is how long a Timeout waits before failing. Default 50 ms.
	TimeoutDelay time.Duration
}

// Transport injects failures into a share of the requests it carries.
type Transport struct {
	cfg      Config
	mu       sync.Mutex
	rng      *rand.Rand
	enabled  atomic.Bool
	injected [kinds]atomic.Int64
	passed   atomic.Int64
}

// New returns a transport that injects failures while enabled (it starts enabled).
func New(cfg Config) (*Transport, error) {
	if cfg.Next == nil {
		cfg.Next = http.DefaultTransport
	}
	if len(cfg.Kinds) == 0 {
		for k := Kind(0); k < kinds; k++ {
			cfg.Kinds = append(cfg.Kinds, k)
		}
	}
	if cfg.TimeoutDelay <= 0 {
		cfg.TimeoutDelay = 50 * time.Millisecond
	}
	if cfg.Rate < 0 || cfg.Rate > 1 {
		return nil, fmt.Errorf("faults: rate %v is outside 0..1", cfg.Rate)
	}
	t := &Transport{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	t.enabled.Store(true)
	return t, nil
}

// SetEnabled turns injection on or off (off: every request passes).
func (t *Transport) SetEnabled(on bool) { t.enabled.Store(on) }

// Injected returns how many failures of each kind were injected.
func (t *Transport) Injected() map[Kind]int64 {
	out := make(map[Kind]int64, kinds)
	for k := Kind(0); k < kinds; k++ {
		out[k] = t.injected[k].Load()
	}
	return out
}

// Total returns the number of failures injected.
func (t *Transport) Total() int64 {
	var n int64
	for k := Kind(0); k < kinds; k++ {
		n += t.injected[k].Load()
	}
	return n
}

// Passed returns how many requests went through untouched.
func (t *Transport) Passed() int64 { return t.passed.Load() }

func (t *Transport) pick() (Kind, bool) {
	if !t.enabled.Load() || t.cfg.Rate == 0 {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rng.Float64() >= t.cfg.Rate {
		return 0, false
	}
	return t.cfg.Kinds[t.rng.IntN(len(t.cfg.Kinds))], true
}

// RoundTrip carries the request, or fails it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	kind, fail := t.pick()
	if !fail {
		t.passed.Add(1)
		return t.cfg.Next.RoundTrip(req)
	}
	t.injected[kind].Add(1)
	switch kind {
	case Throttle:
		drain(req)
		return errorResponse(req, http.StatusBadRequest, throttleCode(req), "Rate exceeded (injected)"), nil
	case ServerError:
		drain(req)
		return errorResponse(req, http.StatusInternalServerError, "InternalServerError", "internal error (injected)"), nil
	case Timeout:
		drain(req)
		select {
		case <-time.After(t.cfg.TimeoutDelay):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}
	case ResetBefore:
		drain(req)
		return nil, &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
	default: // ResetAfter
		resp, err := t.cfg.Next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
}

func drain(req *http.Request) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
}

// throttleCode is the throttling error code of the service the request is for.
func throttleCode(req *http.Request) string {
	target := req.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "DynamoDB"):
		return "ProvisionedThroughputExceededException"
	case strings.HasPrefix(target, "AmazonSQS"):
		return "RequestThrottled"
	default:
		return "Throttling"
	}
}

// errorResponse is an AWS JSON-protocol error; query-protocol clients (SNS) read the same
// status and retry on it too.
func errorResponse(req *http.Request, status int, code, msg string) *http.Response {
	body := fmt.Sprintf(`{"__type":"%s","message":"%s"}`, code, msg)
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("X-Amzn-Errortype", code)
	h.Set("X-Amzn-Requestid", "injected")
	if !strings.HasPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB") && !strings.HasPrefix(req.Header.Get("X-Amz-Target"), "AmazonSQS") {
		h.Set("Content-Type", "text/xml")
		body = fmt.Sprintf(`<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>injected</RequestId></ErrorResponse>`, code, msg)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout (injected)" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
