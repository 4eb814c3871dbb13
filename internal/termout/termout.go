// Package termout prints the answers of the command line: on a terminal as a table (a list)
// or a key/value block (one object), with times in local time and relative to now and
// statuses coloured; elsewhere as the indented JSON scripts read. The table or block is
// built from the value's JSON, so it shows the same fields, named the same way.
package termout

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"
	"golang.org/x/term"
)

// Format is how a value is printed.
type Format string

// The formats a user can ask for.
const (
	// FormatAuto is FormatTable on a terminal and FormatJSON otherwise.
	FormatAuto Format = "auto"
	// FormatJSON is indented JSON, the same bytes whatever the terminal.
	FormatJSON Format = "json"
	// FormatTable is a table for a list and a key/value block for one object.
	FormatTable Format = "table"
)

// ParseFormat reads a format as given to -o/--output; empty is FormatAuto.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return FormatAuto, nil
	case FormatAuto, FormatJSON, FormatTable:
		return f, nil
	}
	return "", fmt.Errorf("termout: output %q: want auto, json or table", s)
}

// Resolve decides the format of output that goes to a terminal or not: an explicit format
// stands; auto is a table for people and JSON for scripts and pipes.
func Resolve(f Format, terminal bool) Format {
	if f == FormatJSON || f == FormatTable {
		return f
	}
	if terminal {
		return FormatTable
	}
	return FormatJSON
}

// Colored reports whether output in format f colours its statuses: only a table, only on a
// terminal, and never when NO_COLOR (https://no-color.org) is set to a non-empty value.
func Colored(f Format, terminal bool, noColor string) bool {
	return f == FormatTable && terminal && noColor == ""
}

// IsTerminal reports whether w is a terminal (a character device such as a pseudo-terminal),
// not a file, pipe or buffer.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// Width is the number of columns of the terminal w is, or 0 when w is no terminal.
func Width(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !IsTerminal(w) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}
