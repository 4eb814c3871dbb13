package handlers

import "github.com/rs/zerolog"

// handlerConfig is what every handler's configuration offers through a pointer.
type handlerConfig interface {
	setDefaults()
	Validate() error
}

// handlerBase is what every handler keeps besides its configuration: its logger and its
// metrics.
type handlerBase struct {
	log     *zerolog.Logger
	metrics *Metrics
}

// prepare does what every handler constructor does first: fill in the configuration's
// defaults, validate it, and resolve its logger (nil is silent) and metrics (nil makes
// unregistered ones). The logger and metrics are read before the defaults, which never
// set them.
func prepare(cfg handlerConfig, l *zerolog.Logger, m *Metrics) (handlerBase, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return handlerBase{}, err
	}
	metrics, err := metricsOr(m)
	if err != nil {
		return handlerBase{}, err
	}
	return handlerBase{log: logger(l), metrics: metrics}, nil
}

// deadLetterUndecodable counts a message of queue that did not decode as dead-lettered and
// logs it, naming it a message of what ("timer", "event").
func (b handlerBase) deadLetterUndecodable(queue, what string, err error) {
	b.metrics.DeadLettered.WithLabelValues(queue, DeadLetterInvalid).Inc()
	b.log.Warn().Err(err).Msgf("undecodable %s message; dead-lettering it", what)
}
