package termout

import (
	"fmt"
	"io"
	"time"
)

// Printer prints the answers of commands in one format.
type Printer struct {
	// Format is FormatJSON or FormatTable (Resolve turns FormatAuto into one of them).
	Format Format
	// Color colours statuses and booleans in a table (see Colored).
	Color bool
	// Now is the instant times are relative to; time.Now when nil.
	Now func() time.Time
	// Location is where times are shown; time.Local when nil.
	Location *time.Location
	// Width is the width of the terminal, that tables are fitted in (see Width); 0 for
	// no limit.
	Width int
}

// Print writes v: as WriteJSON does, or, in FormatTable, a list of objects as a table, one
// object as a key/value block, a list of scalars a line each and a scalar as one line.
func (p Printer) Print(w io.Writer, v any) error {
	if p.Format != FormatTable {
		return WriteJSON(w, v)
	}
	n, err := treeOf(v)
	if err != nil {
		return err
	}
	c := cells{now: time.Now(), loc: time.Local, color: p.Color, width: p.Width}
	if p.Now != nil {
		c.now = p.Now()
	}
	if p.Location != nil {
		c.loc = p.Location
	}
	switch {
	case n.kind == kindArray && len(n.items) == 0:
		_, err = fmt.Fprintln(w, "No results.")
		return err
	case n.kind == kindArray && allObjects(n.items):
		return c.writeTable(w, n.items, "")
	case n.kind == kindArray:
		for _, item := range n.items {
			if _, err := fmt.Fprintln(w, c.cell("", item)); err != nil {
				return err
			}
		}
		return nil
	case n.kind == kindObject:
		return c.writeBlock(w, n, "")
	}
	_, err = fmt.Fprintln(w, c.cell("", n))
	return err
}
