package deploy

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// templatePath is the template every test reads.
const templatePath = "cloudformation.yaml"

// template is the parsed CloudFormation template: plain maps, lists and scalars, with the
// short-form intrinsic functions (!Ref, !Sub, !GetAtt…) turned into their long forms
// ({"Ref": …}, {"Fn::Sub": …}, {"Fn::GetAtt": [resource, attribute]}).
type template struct {
	Parameters map[string]map[string]any
	Resources  map[string]resource
	Outputs    map[string]map[string]any
}

// resource is one entry of the template's Resources.
type resource struct {
	Type       string
	Condition  string
	Properties map[string]any
}

// loadTemplate parses the template or ends the test.
func loadTemplate(t *testing.T) template {
	t.Helper()
	raw, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatalf("read template: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse %s: %v", templatePath, err)
	}
	root, err := convert(&doc)
	if err != nil {
		t.Fatalf("parse %s: %v", templatePath, err)
	}
	top, ok := root.(map[string]any)
	if !ok {
		t.Fatalf("%s: the document is not a mapping", templatePath)
	}
	tpl := template{Parameters: map[string]map[string]any{}, Resources: map[string]resource{}, Outputs: map[string]map[string]any{}}
	for name, v := range asMap(top["Parameters"]) {
		tpl.Parameters[name] = asMap(v)
	}
	for name, v := range asMap(top["Outputs"]) {
		tpl.Outputs[name] = asMap(v)
	}
	for name, v := range asMap(top["Resources"]) {
		m := asMap(v)
		r := resource{Properties: asMap(m["Properties"])}
		r.Type, _ = m["Type"].(string)
		r.Condition, _ = m["Condition"].(string)
		tpl.Resources[name] = r
	}
	return tpl
}

// convert turns a YAML node into plain Go values, keeping CloudFormation's short-form tags
// as the long-form functions they stand for.
func convert(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return nil, fmt.Errorf("line %d: want one document", n.Line)
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			key := n.Content[i].Value
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, key)
			}
			m[key] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		v = n.Value
		if n.Tag == "!!bool" || n.Tag == "!!int" || n.Tag == "!!float" || n.Tag == "!!null" {
			var typed any
			if err := n.Decode(&typed); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			v = typed
		}
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	tag, custom := strings.CutPrefix(n.Tag, "!")
	if !custom || strings.HasPrefix(tag, "!") {
		return v, nil
	}
	switch tag {
	case "Ref", "Condition":
		return map[string]any{tag: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + tag: v}, nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// ofType returns the logical ids of the resources of type typ, sorted.
func (tpl template) ofType(typ string) []string {
	var ids []string
	for id, r := range tpl.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// defaults returns each parameter's default value as a string.
func (tpl template) defaults() map[string]string {
	out := map[string]string{}
	for name, p := range tpl.Parameters {
		if d, ok := p["Default"]; ok {
			out[name] = fmt.Sprint(d)
		}
	}
	return out
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// str evaluates a property that must come out as a string: a literal, a Ref to a parameter,
// or an Fn::Sub whose variables are parameters.
func (tpl template) str(v any, params map[string]string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case int, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok && len(x) == 1 {
			val, ok := params[ref]
			if !ok {
				return "", fmt.Errorf("Ref %s: not a parameter with a value", ref)
			}
			return val, nil
		}
		if sub, ok := x["Fn::Sub"].(string); ok && len(x) == 1 {
			var err error
			out := subVar.ReplaceAllStringFunc(sub, func(m string) string {
				name := subVar.FindStringSubmatch(m)[1]
				val, ok := params[name]
				if !ok && err == nil {
					err = fmt.Errorf("Fn::Sub %q: ${%s} is not a parameter with a value", sub, name)
				}
				return val
			})
			return out, err
		}
	}
	return "", fmt.Errorf("cannot evaluate %v to a string", v)
}

// intOf evaluates a property that must come out as an integer.
func (tpl template) intOf(v any, params map[string]string) (int, error) {
	s, err := tpl.str(v, params)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(s)
}

// nameOf returns the physical name the template gives resource id (its TableName,
// QueueName or TopicName), under params.
func (tpl template) nameOf(id string, params map[string]string) (string, error) {
	r, ok := tpl.Resources[id]
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	for _, key := range []string{"TableName", "QueueName", "TopicName"} {
		if v, ok := r.Properties[key]; ok {
			return tpl.str(v, params)
		}
	}
	return "", fmt.Errorf("resource %s has no name property", id)
}

// refersTo returns the logical id a !Ref or !GetAtt X.Arn points at, or "".
func refersTo(v any) string {
	m := asMap(v)
	if ref, ok := m["Ref"].(string); ok {
		return ref
	}
	if ga := asList(m["Fn::GetAtt"]); len(ga) == 2 {
		if id, ok := ga[0].(string); ok && ga[1] == "Arn" {
			return id
		}
	}
	return ""
}

func TestTemplateParses(t *testing.T) {
	tpl := loadTemplate(t)
	if len(tpl.Resources) == 0 {
		t.Fatal("the template declares no resources")
	}
	for _, p := range []string{"Prefix", "MaxReceiveCount"} {
		if _, ok := tpl.defaults()[p]; !ok {
			t.Errorf("parameter %s has no default", p)
		}
	}
}
