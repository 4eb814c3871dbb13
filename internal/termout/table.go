package termout

import (
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
)

// maxCellWidth bounds a nested value (an event's body, its metadata) in a table cell; the
// whole value is in -o json.
const maxCellWidth = 40

// tableStyle is a table as kubectl and gh print one: a header row, columns separated by
// spaces, no borders.
var tableStyle = func() table.Style {
	st := table.StyleDefault
	st.Name = "buildledger"
	st.Options = table.Options{}
	st.Box.PaddingLeft = ""
	st.Box.PaddingRight = "  "
	st.Format.Header = 0 // text.FormatDefault: headers are made by header()
	return st
}()

// writeTable writes objects as a table: one row each, a column for each field name in the
// order the objects have them (a field only some objects have gets a column too).
func (c cells) writeTable(w io.Writer, objects []node, indent string) error {
	names := columns(objects)
	tw := table.NewWriter()
	tw.SetStyle(tableStyle)
	head := make(table.Row, len(names))
	for i, name := range names {
		head[i] = c.paint(bold, header(name))
	}
	tw.AppendHeader(head)
	rows := make([]table.Row, 0, len(objects))
	for _, o := range objects {
		values := make(map[string]node, len(o.fields))
		for _, f := range o.fields {
			values[f.name] = f.value
		}
		row := make(table.Row, len(names))
		for i, name := range names {
			v, ok := values[name]
			if !ok {
				row[i] = ""
				continue
			}
			row[i] = c.cell(name, v)
		}
		rows = append(rows, row)
	}
	tw.AppendRows(rows)
	nested := make([]bool, len(names))
	for _, o := range objects {
		for _, f := range o.fields {
			if i := slices.Index(names, f.name); i >= 0 && (f.value.kind == kindObject || (f.value.kind == kindArray && !allScalars(f.value.items))) {
				nested[i] = true
			}
		}
	}
	tw.SetColumnConfigs(c.fit(names, nested, head, rows, c.width-len(indent)))
	return writeLines(w, tw.Render(), indent)
}

// minColumnWidth is as narrow as fit makes a column.
const minColumnWidth = 12

// fit makes a table that is wider than width (0: no limit) fit it, so that the terminal
// does not wrap whole lines: it narrows the widest column, one character at a time, and
// the cells of the columns it narrowed wrap within them (a nested value's JSON is cut
// instead). Times and ids (which people copy)
// keep their width, and no column gets narrower than its header or minColumnWidth, so a
// table may stay too wide.
func (c cells) fit(names []string, nested []bool, head table.Row, rows []table.Row, width int) []table.ColumnConfig {
	if width <= 0 {
		return nil
	}
	values := make([]int, len(head)) // the widest value of each column, header aside
	for _, row := range rows {
		for i, v := range row {
			for _, line := range strings.Split(v.(string), "\n") {
				values[i] = max(values[i], text.StringWidthWithoutEscSequences(line))
			}
		}
	}
	natural := make([]int, len(head))
	widths := make([]int, len(head))
	narrowest := make([]int, len(head))
	for i, name := range names {
		title := header(name)
		natural[i] = max(values[i], text.StringWidthWithoutEscSequences(title))
		// First a header wider than its values wraps at its spaces ("FENCING TOKEN").
		widths[i] = max(values[i], longestWord(title))
		narrowest[i] = widths[i] // times and ids are not narrowed
		if !isTimeField(name) && !isIDField(name) {
			narrowest[i] = min(widths[i], max(minColumnWidth, longestWord(title)))
		}
	}
	if c.tableWidth(natural) <= width {
		return nil
	}
	for total := c.tableWidth(widths); total > width; total-- {
		widest := -1
		for i := range widths {
			if widths[i] > narrowest[i] && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
	}
	var configs []table.ColumnConfig
	for i := range widths {
		if widths[i] < natural[i] {
			enforce := text.WrapSoft
			if nested[i] {
				enforce = truncate
			}
			configs = append(configs, table.ColumnConfig{Number: i + 1, WidthMax: widths[i], WidthMaxEnforcer: enforce})
		}
	}
	return configs
}

// tableWidth is the width of a table whose columns are widths wide.
func (c cells) tableWidth(widths []int) int {
	total := len(tableStyle.Box.PaddingRight) * (len(widths) - 1)
	for _, w := range widths {
		total += w
	}
	return total
}

// longestWord is the width of the longest word of a header.
func longestWord(title string) int {
	longest := 0
	for _, word := range strings.Fields(title) {
		longest = max(longest, text.StringWidthWithoutEscSequences(word))
	}
	return longest
}

// isIDField reports whether field name holds an identifier: id, commandId, eventId, an
// event's key.
func isIDField(name string) bool {
	return name == "id" || name == "key" || strings.HasSuffix(name, "Id") || strings.HasSuffix(name, "ID")
}

// columns are the field names of objects, each once, in the order the objects have them:
// a field that only later objects have (an omitempty one) goes before the next field they
// share, so columns keep the order of the struct the JSON came from. Hidden fields are left
// out.
func columns(objects []node) []string {
	var names []string
	seen := map[string]bool{}
	for _, o := range objects {
		for i, f := range o.fields {
			if seen[f.name] || hidden[f.name] {
				continue
			}
			seen[f.name] = true
			at := len(names)
			for _, next := range o.fields[i+1:] {
				if j := slices.Index(names, next.name); j >= 0 {
					at = j
					break
				}
			}
			names = slices.Insert(names, at, f.name)
		}
	}
	return names
}

// hidden are fields left out of tables and blocks: the read models' bookkeeping, which
// says nothing to people (-o json keeps them).
var hidden = map[string]bool{"streamVersion": true}

// cell is a table cell: a scalar as scalar shows it, a list of scalars joined with commas,
// anything else as compact JSON, cut at maxCellWidth.
func (c cells) cell(name string, n node) string {
	switch n.kind {
	case kindObject:
		return truncate(n.compact(), maxCellWidth)
	case kindArray:
		if !allScalars(n.items) {
			return truncate(n.compact(), maxCellWidth)
		}
		parts := make([]string, len(n.items))
		for i, item := range n.items {
			parts[i] = c.scalar(name, item)
		}
		return strings.Join(parts, ", ")
	}
	return c.scalar(name, n)
}

// header is a column's title: the field name in capitals, the words of a camelCase name
// apart ("createdAt" is "CREATED AT"), without the Ms of a duration shown as one. Names
// that are data, such as a build's browser columns, are only capitalised.
func header(name string) string {
	if isDurationField(name) {
		name = strings.TrimSuffix(name, "Ms")
	}
	if name == "" || !unicode.IsLower([]rune(name)[0]) {
		return strings.ToUpper(name)
	}
	var b strings.Builder
	prev := rune(0)
	for _, r := range name {
		if unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
		prev = r
	}
	return b.String()
}

func allScalars(items []node) bool {
	for _, n := range items {
		if n.kind == kindObject || n.kind == kindArray {
			return false
		}
	}
	return true
}

func allObjects(items []node) bool {
	for _, n := range items {
		if n.kind != kindObject {
			return false
		}
	}
	return true
}

// truncate cuts s to at most width runes, ending it with an ellipsis when cut.
func truncate(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	return string(r[:width-1]) + "…"
}

// writeLines writes text line by line after indent, without trailing spaces.
func writeLines(w io.Writer, text, indent string) error {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		b.WriteString(indent)
		b.WriteString(strings.TrimRight(line, " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
