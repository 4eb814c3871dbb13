package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHTTPServer_GivenAClientSendingHeadersOneByteASecond_ThenTheHeaderTimeoutCutsItOff(t *testing.T) {
	timeouts := defaultHTTPTimeouts
	timeouts.ReadHeader = 2 * time.Second // the default is 10s; the rule is the same
	handled := make(chan struct{}, 1)
	addr := serveHTTPWith(t, timeouts, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		handled <- struct{}{}
		_, _ = io.WriteString(w, "ok")
	}))

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers that would take a minute at a byte a second.
	request := "GET /healthz HTTP/1.1\r\nHost: buildledger\r\nX-Slow: " + strings.Repeat("s", 60) + "\r\n\r\n"
	start := time.Now()
	writeErr := make(chan error, 1)
	go func() {
		for i := range len(request) {
			if _, err := conn.Write([]byte{request[i]}); err != nil {
				writeErr <- err
				return
			}
			time.Sleep(time.Second)
		}
		writeErr <- nil
	}()

	if err := conn.SetReadDeadline(time.Now().Add(timeouts.ReadHeader + safetyBound)); err != nil {
		t.Fatal(err)
	}
	// The server may answer a 4xx (net/http writes 400 or 408, by version) before it
	// closes; it must close either way, and never run the handler.
	answer, err := io.ReadAll(conn)
	elapsed := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the connection is still open after %s with a header timeout of %s", elapsed.Round(time.Millisecond), timeouts.ReadHeader)
	case len(answer) > 0 && !strings.HasPrefix(string(answer), "HTTP/1.1 4"):
		t.Fatalf("the server answered %q to headers it never received in full, want nothing or a 4xx", answer)
	}
	if elapsed < timeouts.ReadHeader-200*time.Millisecond {
		t.Fatalf("cut off after %s, before the header timeout of %s: %v", elapsed.Round(time.Millisecond), timeouts.ReadHeader, err)
	}
	select {
	case <-handled:
		t.Fatal("the handler ran for a request whose headers were cut off")
	default:
	}
	// The writer notices the closed connection at once or after its next bytes.
	select {
	case <-writeErr:
	case <-time.After(safetyBound):
		t.Fatal("the slow client could still write long after the server cut it off")
	}
}
