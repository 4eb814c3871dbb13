package handlers

import (
	"github.com/ThreeDotsLabs/watermill"
	"github.com/rs/zerolog"
)

// NewWatermillLogger adapts a zerolog logger to watermill's LoggerAdapter, so that the
// router, subscribers and middleware log through the same structured logger as the
// handlers. A nil logger is silent.
func NewWatermillLogger(l *zerolog.Logger) watermill.LoggerAdapter {
	if l == nil {
		return watermill.NopLogger{}
	}
	return zerologAdapter{l: *l}
}

type zerologAdapter struct{ l zerolog.Logger }

func (a zerologAdapter) Error(msg string, err error, fields watermill.LogFields) {
	a.l.Error().Err(err).Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) Info(msg string, fields watermill.LogFields) {
	a.l.Info().Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) Debug(msg string, fields watermill.LogFields) {
	a.l.Debug().Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) Trace(msg string, fields watermill.LogFields) {
	a.l.Trace().Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return zerologAdapter{l: a.l.With().Fields(map[string]any(fields)).Logger()}
}

// logger returns l, or a disabled logger when l is nil, so that callers log unconditionally.
func logger(l *zerolog.Logger) *zerolog.Logger {
	if l == nil {
		nop := zerolog.Nop()
		return &nop
	}
	return l
}
