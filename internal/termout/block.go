package termout

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// blockIndent indents what is nested under a key.
const blockIndent = "  "

// writeBlock writes an object as key/value lines, keys aligned: a nested object under its
// key, indented; a nested list of objects as an indented table; a list of scalars joined
// with commas.
func (c cells) writeBlock(w io.Writer, object node, indent string) error {
	fields := slices.DeleteFunc(slices.Clone(object.fields), func(f field) bool { return hidden[f.name] })
	width := 0
	for _, f := range fields {
		width = max(width, utf8.RuneCountInString(f.name))
	}
	for _, f := range fields {
		key := indent + f.name
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.name)+2)
		var err error
		switch v := f.value; {
		case v.kind == kindObject && len(v.fields) > 0:
			if _, err = fmt.Fprintln(w, key); err == nil {
				err = c.writeBlock(w, v, indent+blockIndent)
			}
		case v.kind == kindArray && len(v.items) > 0 && allObjects(v.items):
			if _, err = fmt.Fprintln(w, key); err == nil {
				err = c.writeTable(w, v.items, indent+blockIndent)
			}
		case (v.kind == kindArray && len(v.items) == 0) || v.kind == kindObject:
			_, err = fmt.Fprintln(w, key+pad+c.paint(faint, "(none)"))
		default:
			_, err = fmt.Fprintln(w, strings.TrimRight(key+pad+c.cell(f.name, v), " "))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
