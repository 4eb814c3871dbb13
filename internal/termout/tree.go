package termout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// kind is the JSON type of a node.
type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindObject
	kindArray
)

// node is a decoded JSON value that keeps the order of object fields, so that columns and
// keys come in the order the JSON has them.
type node struct {
	kind   kind
	bool   bool
	text   string // a number's literal or a string's value
	fields []field
	items  []node
}

// field is one member of a JSON object.
type field struct {
	name  string
	value node
}

// treeOf marshals v and decodes the JSON into a node.
func treeOf(v any) (node, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return node{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeNode(dec)
	if err != nil {
		return node{}, fmt.Errorf("termout: decode %T: %w", v, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return node{}, fmt.Errorf("termout: decode %T: trailing data", v)
	}
	return n, nil
}

func decodeNode(dec *json.Decoder) (node, error) {
	tok, err := dec.Token()
	if err != nil {
		return node{}, err
	}
	switch t := tok.(type) {
	case nil:
		return node{kind: kindNull}, nil
	case bool:
		return node{kind: kindBool, bool: t}, nil
	case json.Number:
		return node{kind: kindNumber, text: t.String()}, nil
	case string:
		return node{kind: kindString, text: t}, nil
	case json.Delim:
		if t == '[' {
			return decodeArray(dec)
		}
		return decodeObject(dec)
	}
	return node{}, fmt.Errorf("unexpected token %v", tok)
}

func decodeArray(dec *json.Decoder) (node, error) {
	n := node{kind: kindArray, items: []node{}}
	for dec.More() {
		item, err := decodeNode(dec)
		if err != nil {
			return node{}, err
		}
		n.items = append(n.items, item)
	}
	_, err := dec.Token() // ]
	return n, err
}

func decodeObject(dec *json.Decoder) (node, error) {
	n := node{kind: kindObject, fields: []field{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return node{}, err
		}
		name, _ := tok.(string)
		value, err := decodeNode(dec)
		if err != nil {
			return node{}, err
		}
		n.fields = append(n.fields, field{name: name, value: value})
	}
	_, err := dec.Token() // }
	return n, err
}

// compact is the node as one line of JSON, for a nested value in a table cell.
func (n node) compact() string {
	var b bytes.Buffer
	n.writeCompact(&b)
	return b.String()
}

func (n node) writeCompact(b *bytes.Buffer) {
	switch n.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool:
		fmt.Fprint(b, n.bool)
	case kindNumber:
		b.WriteString(n.text)
	case kindString:
		b.WriteString(quote(n.text))
	case kindArray:
		b.WriteByte('[')
		for i, item := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			item.writeCompact(b)
		}
		b.WriteByte(']')
	case kindObject:
		b.WriteByte('{')
		for i, f := range n.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(quote(f.name))
			b.WriteByte(':')
			f.value.writeCompact(b)
		}
		b.WriteByte('}')
	}
}

// quote is s as a JSON string, without the HTML escaping json.Marshal adds.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
