package bench

import (
	"context"
	"errors"
)

func measureEndToEnd(ctx context.Context, e *environment) ([]Figure, error) {
	return nil, errors.New("not yet")
}

func measureReplay(ctx context.Context, e *environment) ([]Figure, error) {
	return nil, errors.New("not yet")
}
