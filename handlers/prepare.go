package handlers

import "github.com/rs/zerolog"

// handlerConfig is what every handler's configuration offers through a pointer.
type handlerConfig interface {
	setDefaults()
	Validate() error
}

// prepare does what every handler constructor does first: fill in the configuration's
// defaults, validate it, and resolve its logger (nil is silent) and metrics (nil makes
// unregistered ones). The logger and metrics are read before the defaults, which never
// set them.
func prepare(cfg handlerConfig, l *zerolog.Logger, m *Metrics) (*zerolog.Logger, *Metrics, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	metrics, err := metricsOr(m)
	if err != nil {
		return nil, nil, err
	}
	return logger(l), metrics, nil
}
