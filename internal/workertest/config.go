package workertest

import (
	"io"
	"time"

	"github.com/rs/zerolog"

	"buildledger/handlers"
)

// Config is the configuration of a test's worker on ep: it waits for messages a second at
// a time and stops within 20 seconds, so that a test ends quickly; it retries a failed
// message after 20ms, backing off to 200ms; it logs at info level, with timestamps, to logs.
// The test sets what its worker needs besides (snapshot policy, parallelism, applier).
func Config(ep handlers.Endpoints, logs io.Writer) handlers.WorkerConfig {
	log := zerolog.New(logs).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	return handlers.WorkerConfig{
		Endpoints:       ep,
		ReceiveWaitTime: time.Second,
		CloseTimeout:    20 * time.Second,
		Retry:           handlers.RetryConfig{InitialInterval: 20 * time.Millisecond, MaxInterval: 200 * time.Millisecond},
		Logger:          &log,
	}
}
