// Package authget sends a test's GET requests, with an Authorization header, to a test
// server and reads the whole answer.
package authget

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Answer is the answer to a GET, its body read and closed.
type Answer struct {
	// Request is the request that was sent.
	Request *http.Request
	// Status is the answer's HTTP status code.
	Status int
	// Header is the answer's header.
	Header http.Header
	// Body is the whole body of the answer.
	Body []byte
}

// Get asks srv for path with authorization as the Authorization header (none when it is
// empty) and returns the answer. It fails the test when the request cannot be sent or the
// body cannot be read.
func Get(t testing.TB, srv *httptest.Server, path, authorization string) Answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return Answer{Request: req, Status: resp.StatusCode, Header: resp.Header, Body: body}
}
