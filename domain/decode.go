package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
)

// ErrMalformedJSON is wrapped by every ObjectMembers error that is a JSON syntax error,
// as opposed to a repeated key.
var ErrMalformedJSON = errors.New("malformed JSON")

// ObjectMembers splits a JSON object into its members, strictly: the body must be exactly
// one JSON object, and a key may appear only once. Keys are compared exactly as written
// (after JSON unescaping), never folded: a filter in front of the queue that reads
// "user" and the worker must never see two different values for one command.
func ObjectMembers(body []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("must be a JSON object")
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedJSON, endOfInput(err))
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: object key is not a string", ErrMalformedJSON)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, fmt.Errorf("%w at %q: %w", ErrMalformedJSON, key, endOfInput(err))
		}
		if _, dup := members[key]; dup {
			return nil, fmt.Errorf("key %q appears more than once", key)
		}
		members[key] = value
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedJSON, endOfInput(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrMalformedJSON)
	}
	return members, nil
}

// endOfInput names a body that ends inside the object for what it is.
func endOfInput(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// commandFieldNames returns the JSON names of the fields of command struct type t.
func commandFieldNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// unknownFieldError names a field the command does not have, with the field it was
// probably meant to be when only the case differs.
func unknownFieldError(command, key string, known []string) error {
	reason := "unknown field"
	for _, k := range known {
		if strings.EqualFold(k, key) {
			reason = fmt.Sprintf("unknown field (field names are case-sensitive: did you mean %q?)", k)
			break
		}
	}
	return &InvalidCommandError{Command: command, Field: key, Reason: reason}
}

// decodeFields decodes the members of a command object into a T, refusing any member
// that is not one of T's fields.
func decodeFields[T Command](name string, known []string, fields map[string]json.RawMessage) (T, error) {
	var c T
	var unknown []error
	for key := range fields {
		if !slices.Contains(known, key) {
			unknown = append(unknown, unknownFieldError(name, key, known))
		}
	}
	if len(unknown) > 0 {
		slices.SortFunc(unknown, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return c, errors.Join(unknown...)
	}
	// Every key is now one of T's own names, exactly and once, so the standard decoder's
	// case-insensitive matching has nothing to fold.
	body, err := json.Marshal(fields)
	if err != nil {
		return c, &InvalidCommandError{Command: name, Reason: "malformed JSON: " + err.Error(), Err: err}
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return c, decodeCommandError(name, err)
	}
	return c, nil
}
