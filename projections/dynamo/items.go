package dynamo

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/internal/convert"
	"buildledger/internal/ddb"
	"buildledger/projections"
)

type attrs = map[string]types.AttributeValue

// toAttr converts a normalized item value to an attribute value.
func toAttr(v any) (types.AttributeValue, error) {
	n, err := projections.Normalize(v)
	if err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &types.AttributeValueMemberS{Value: n}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: n}, nil
	case int64:
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}, nil
	case float64:
		return &types.AttributeValueMemberN{Value: strconv.FormatFloat(n, 'f', -1, 64)}, nil
	}
	return nil, fmt.Errorf("projections/dynamo: value of type %T", v)
}

// fromAttr converts an attribute value to an item value: numbers to int64 when they are
// whole and fit, else float64.
func fromAttr(av types.AttributeValue) (any, error) {
	switch av := av.(type) {
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberS:
		return av.Value, nil
	case *types.AttributeValueMemberBOOL:
		return av.Value, nil
	case *types.AttributeValueMemberN:
		if n, err := strconv.ParseInt(av.Value, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(av.Value, 64)
		if err != nil {
			return nil, fmt.Errorf("projections/dynamo: number %q: %w", av.Value, err)
		}
		return projections.Normalize(f)
	}
	return nil, fmt.Errorf("projections/dynamo: attribute of type %T is not used by the read model", av)
}

func toAttrs(it projections.Item) (attrs, error) { return convert.Attributes(it, toAttr) }

func fromAttrs(a attrs) (projections.Item, error) { return convert.Attributes(a, fromAttr) }

// keyAttrs returns the key attributes of k.
func keyAttrs(k projections.Key) (attrs, error) {
	s, ok := projections.SchemaOf(k.Table.Name)
	if !ok {
		return nil, fmt.Errorf("projections/dynamo: unknown table %q", k.Table.Name)
	}
	out := attrs{s.PartitionKey: &types.AttributeValueMemberS{Value: k.Partition}}
	if s.SortKey != "" {
		av, err := toAttr(k.Sort)
		if err != nil {
			return nil, err
		}
		out[s.SortKey] = av
	}
	return out, nil
}

// expr collects the attribute names and values of one expression under placeholders, so
// that any attribute name (a browser called "size") can be used.
type expr struct {
	names  map[string]string
	values attrs
}

func newExpr() *expr { return &expr{names: map[string]string{}, values: attrs{}} }

func (e *expr) name(n string) string {
	for ph, v := range e.names {
		if v == n {
			return ph
		}
	}
	ph := "#n" + strconv.Itoa(len(e.names))
	e.names[ph] = n
	return ph
}

func (e *expr) value(v any) (string, error) {
	av, err := toAttr(v)
	if err != nil {
		return "", err
	}
	ph := ":v" + strconv.Itoa(len(e.values))
	e.values[ph] = av
	return ph, nil
}

func (e *expr) namesOrNil() map[string]string {
	if len(e.names) == 0 {
		return nil
	}
	return e.names
}

func (e *expr) valuesOrNil() attrs {
	if len(e.values) == 0 {
		return nil
	}
	return e.values
}

// condition returns the condition expression of a guard on an item of table t.
func condition(e *expr, t projections.Table, g *projections.Guard) (*string, error) {
	if g == nil {
		return nil, nil
	}
	s, ok := projections.SchemaOf(t.Name)
	if !ok {
		return nil, fmt.Errorf("projections/dynamo: unknown table %q", t.Name)
	}
	absent := func() string { return "attribute_not_exists(" + e.name(s.PartitionKey) + ")" }
	switch g.Op {
	case projections.GuardAbsent:
		return aws.String(absent()), nil
	case projections.GuardEqual:
		var parts []string
		for i, a := range g.Attrs {
			v, err := e.value(g.Values[i])
			if err != nil {
				return nil, err
			}
			parts = append(parts, e.name(a)+" = "+v)
		}
		return aws.String(strings.Join(parts, " AND ")), nil
	case projections.GuardOlder:
		// (a0, a1, …) < (v0, v1, …): a0 < v0 OR (a0 = v0 AND a1 < v1) OR …
		ors := []string{absent()}
		var eqs []string
		for i, a := range g.Attrs {
			v, err := e.value(g.Values[i])
			if err != nil {
				return nil, err
			}
			n := e.name(a)
			ors = append(ors, "("+strings.Join(append(slicesClone(eqs), n+" < "+v), " AND ")+")")
			eqs = append(eqs, n+" = "+v)
		}
		return aws.String(strings.Join(ors, " OR ")), nil
	}
	return nil, fmt.Errorf("projections/dynamo: unknown guard op %d", g.Op)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// isConditionFailure reports whether err is a failed condition, in a single write or in a
// cancelled transaction, or a transaction that collided with another one: for callers both
// mean "someone else wrote first; read again".
func isConditionFailure(err error) bool {
	_, ok := ddb.ConditionFailure(err)
	return ok
}

// translate maps DynamoDB errors to the port's.
func translate(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case isConditionFailure(err):
		return fmt.Errorf("projections/dynamo: %s: %w", op, projections.ErrConditionFailed)
	case ddb.IsNoTable(err):
		return fmt.Errorf("projections/dynamo: %s: %w: %v", op, projections.ErrNoTable, err)
	}
	return fmt.Errorf("projections/dynamo: %s: %w", op, err)
}
