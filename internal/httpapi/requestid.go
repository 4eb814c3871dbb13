package httpapi

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// RequestIDHeader carries a request's id, from the caller or made by the API, in both
// directions; a 500's body and log line carry the same id.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDBytes bounds a caller's request id: it goes into every log line of the
// request, so a longer one is replaced rather than logged.
const maxRequestIDBytes = 128

type requestIDKey struct{}

// withRequestID gives every request an id: the caller's X-Request-Id when it is usable,
// otherwise a new uuid. It answers with the id in X-Request-Id.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := RequestID(r)
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestID returns the id a request gets: the caller's X-Request-Id when it is usable
// (see usableRequestID), otherwise a new uuid. Middleware in front of the API answers with
// the same rule.
func RequestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); usableRequestID(id) {
		return id
	}
	return uuid.NewString()
}

// usableRequestID reports whether a caller's id is short and printable ASCII without
// spaces, so that it can be logged and searched for as it is.
func usableRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// requestID returns the id withRequestID gave the request.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
