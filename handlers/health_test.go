package handlers_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"buildledger/handlers"
)

func get(t *testing.T, h http.Handler, path string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, body
}

func TestHealthHandler_GivenReadiness_ThenHealthzAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := handlers.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Commands.WithLabelValues(handlers.LabelAccepted).Inc()
	// A second worker in the same process shares the registered metrics.
	if _, err := handlers.NewMetrics(reg); err != nil {
		t.Fatalf("registering the metrics twice: %v", err)
	}

	ready := errors.New("handlers: worker is not running yet")
	h := handlers.HealthHandler(reg, func() error { return ready })
	if code, body := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || !bytes.Contains(body, []byte("not running")) {
		t.Errorf("/healthz not ready = %d %q, want 503 with the reason", code, body)
	}
	ready = nil
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz ready = %d %q, want 200 ok", code, body)
	}
	if code, body := get(t, h, "/metrics"); code != http.StatusOK || !bytes.Contains(body, []byte(`buildledger_commands_processed_total{outcome="accepted"} 1`)) {
		t.Errorf("/metrics = %d, without the accepted command:\n%s", code, body)
	}
}
