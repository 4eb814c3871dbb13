package projections

import "fmt"

// attrStreamVersion is the attribute every row keeps: the version of the stream it reflects.
const attrStreamVersion = "streamVersion"

// itemReader reads typed attributes of an item and remembers the first problem.
type itemReader struct {
	table string
	item  Item
	err   error
}

func (r *itemReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("projections: %s row: "+format, append([]any{r.table}, args...)...)
	}
}

func (r *itemReader) str(name string) string {
	switch v := r.item[name].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		r.fail("%s is %T, want a string", name, v)
		return ""
	}
}

func (r *itemReader) optStr(name string) *string {
	switch v := r.item[name].(type) {
	case string:
		return &v
	case nil:
		return nil
	default:
		r.fail("%s is %T, want a string or null", name, v)
		return nil
	}
}

func (r *itemReader) int(name string) int64 {
	switch v := r.item[name].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	case nil:
		return 0
	default:
		r.fail("%s is %T, want a number", name, v)
		return 0
	}
}

func (r *itemReader) optInt(name string) *int64 {
	if r.item[name] == nil {
		return nil
	}
	v := r.int(name)
	return &v
}

func (r *itemReader) float(name string) float64 {
	switch v := r.item[name].(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	case nil:
		return 0
	default:
		r.fail("%s is %T, want a number", name, v)
		return 0
	}
}

func (r *itemReader) bool(name string) bool {
	switch v := r.item[name].(type) {
	case bool:
		return v
	case nil:
		return false
	default:
		r.fail("%s is %T, want a boolean", name, v)
		return false
	}
}
