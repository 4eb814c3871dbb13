package apiauth

import (
	"fmt"
	"io"
	"os"
)

// loadFile parses the file at path with parse. An error opening it is prefixed with
// "apiauth: " and what the file is; a parse error with its path.
func loadFile[T any](path, what string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("apiauth: %s: %w", what, err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
