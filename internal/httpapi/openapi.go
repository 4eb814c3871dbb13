package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
)

// openAPIDocument is the OpenAPI 3 document of the read API. It is written by hand, for
// people and for tools; openapi_test.go keeps it true: every route in it is the mux's, and
// every answer of every route is checked against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIPath is where the API serves its OpenAPI document.
const OpenAPIPath = "/v1/openapi.json"

// OpenAPIDocument returns the OpenAPI 3 document (JSON) that the API serves at OpenAPIPath.
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

func (a *server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}
