package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// safetyBound ends a read that the server should have ended long before.
const safetyBound = 5 * time.Second

// serveHTTP starts the service's HTTP server with the default limits, except for a short
// idle timeout, on a real TCP port of 127.0.0.1.
func serveHTTP(t *testing.T, idle time.Duration) string {
	t.Helper()
	timeouts := defaultHTTPTimeouts
	timeouts.Idle = idle
	return serveHTTPWith(t, timeouts, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
}

// serveHTTPWith starts the service's HTTP server with timeouts and handler on a real TCP
// port of 127.0.0.1, closed when the test ends, and returns its address.
func serveHTTPWith(t *testing.T, timeouts httpTimeouts, handler http.Handler) string {
	t.Helper()
	srv := newHTTPServer("127.0.0.1:0", handler, timeouts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestHTTPServer_GivenAKeepAliveConnection_WhenItStaysIdlePastTheIdleTimeout_ThenTheServerClosesIt(t *testing.T) {
	addr := serveHTTP(t, 200*time.Millisecond)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(safetyBound)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: buildledger\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("first answer %d (close %v), want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
	}

	_, err = r.ReadByte()
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("idle connection still open after %s with an idle timeout of 200ms", safetyBound)
	default:
		t.Fatalf("read on the idle connection: %v, want EOF", err)
	}
}

func TestHTTPServer_GivenHeadersOverTheLimit_WhenRequested_ThenAnswer431(t *testing.T) {
	addr := serveHTTP(t, time.Minute)
	tests := []struct {
		name   string
		header int
		want   int
	}{
		{"given headers of 1 KiB then 200", 1 << 10, http.StatusOK},
		// net/http allows 4 KiB beyond MaxHeaderBytes for the request line and slack.
		{"given headers well over the limit then 431", defaultHTTPTimeouts.MaxHeaderBytes + 8<<10, http.StatusRequestHeaderFieldsTooLarge},
	}
	client := &http.Client{Timeout: safetyBound}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Padding", strings.Repeat("p", tt.header))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET with %d bytes of headers = %d, want %d", tt.header, resp.StatusCode, tt.want)
			}
		})
	}
}
