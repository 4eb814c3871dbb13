// Package convert converts every element of a slice, or every attribute of an item, with a
// function that can fail: the stores' decoders and encoders, which stop at the first value
// they cannot convert.
package convert

import "fmt"

// All appends conv(v) for every v of in to into, in order, and returns the extended slice;
// the first error is returned as it is, with nil.
func All[V, W any](into []W, in []V, conv func(V) (W, error)) ([]W, error) {
	for _, v := range in {
		w, err := conv(v)
		if err != nil {
			return nil, err
		}
		into = append(into, w)
	}
	return into, nil
}

// Attributes returns a copy of an item with every attribute's value converted by conv; an
// error names the attribute ("attribute NAME: ...").
func Attributes[V, W any](in map[string]V, conv func(V) (W, error)) (map[string]W, error) {
	out := make(map[string]W, len(in))
	for name, v := range in {
		w, err := conv(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out[name] = w
	}
	return out, nil
}
