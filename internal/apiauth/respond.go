package apiauth

import (
	"net/http"

	"buildledger/internal/httpapi"
)

// authError is the JSON body of a 401, 403, 503 or board 404.
type authError struct {
	Error string `json:"error"`
	// Kind is the kind of route asked for (403, and 401 on a route).
	Kind string `json:"kind,omitempty"`
	// Caller names the authenticated caller a 403 refuses.
	Caller string `json:"caller,omitempty"`
	// RequestID is the id of the request's log line.
	RequestID string `json:"requestId,omitempty"`
}

// writeError answers body with status, with the request id the API would have given the
// request (the caller's usable X-Request-Id, else a new UUID), which it returns.
func writeError(w http.ResponseWriter, r *http.Request, status int, body authError) string {
	id := httpapi.RequestID(r)
	body.RequestID = id
	w.Header().Set(httpapi.RequestIDHeader, id)
	httpapi.WriteJSON(w, status, body)
	return id
}
