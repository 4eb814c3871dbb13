package termout

import (
	"encoding/json"
	"io"
)

// WriteJSON writes v as the command line has always printed it: indented by two spaces,
// without HTML escaping, with a final newline. Scripts depend on these bytes.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
