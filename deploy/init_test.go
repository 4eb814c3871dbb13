package deploy

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"buildledger/handlers"
)

// TestTemplateCreatesWhatInitCreates runs init's own provisioning code and requires the
// template to declare exactly the tables, queues, topics and subscriptions it created,
// each with the same keys, indexes and attributes, under the template's default
// parameters (the prefix aside). A change to what init creates fails here until the
// template follows.
func TestTemplateCreatesWhatInitCreates(t *testing.T) {
	tpl := loadTemplate(t)
	// Zero values: the defaults of handlers.MessagingConfig, which must be the template's.
	prefix, got := runInit(t, handlers.MessagingConfig{})
	params := tpl.defaults()
	params["Prefix"] = prefix

	t.Run("tables", func(t *testing.T) {
		sameByName(t, tpl, params, "AWS::DynamoDB::Table", "table", got.tables,
			func(in *dynamodb.CreateTableInput) string { return aws.ToString(in.TableName) },
			func(name, id string, in *dynamodb.CreateTableInput) {
				if diff := compareTable(tpl, id, in); diff != "" {
					t.Errorf("table %s (%s): %s", name, id, diff)
				}
			})
	})

	t.Run("queues", func(t *testing.T) {
		sameByName(t, tpl, params, "AWS::SQS::Queue", "queue", got.queues,
			func(in *sqs.CreateQueueInput) string { return aws.ToString(in.QueueName) },
			func(name, id string, in *sqs.CreateQueueInput) {
				want, err := normalQueueAttributes(in.Attributes)
				if err != nil {
					t.Fatalf("queue %s: %v", name, err)
				}
				have, err := templateQueueAttributes(tpl, id, params)
				if err != nil {
					t.Errorf("queue %s (%s): %v", name, id, err)
					return
				}
				if !maps.Equal(have, want) {
					t.Errorf("queue %s (%s) attributes:\n template %v\n init     %v", name, id, have, want)
				}
			})
	})

	t.Run("topics", func(t *testing.T) {
		sameByName(t, tpl, params, "AWS::SNS::Topic", "topic", got.topics,
			func(in *sns.CreateTopicInput) string { return aws.ToString(in.Name) },
			func(name, id string, in *sns.CreateTopicInput) {
				if len(in.Attributes) > 0 || len(in.Tags) > 0 {
					t.Errorf("init gives topic %s attributes or tags the test does not compare: %v %v", name, in.Attributes, in.Tags)
				}
				if extra := slices.DeleteFunc(slices.Sorted(maps.Keys(tpl.Resources[id].Properties)), func(k string) bool { return k == "TopicName" }); len(extra) > 0 {
					t.Errorf("topic %s (%s): the template sets %v, init does not", name, id, extra)
				}
			})
	})

	t.Run("queue policies", func(t *testing.T) {
		var want, have []string
		for url, doc := range got.queuePolicies {
			d, err := describeQueuePolicy(url[strings.LastIndex(url, "/")+1:], doc)
			if err != nil {
				t.Fatalf("init's policy of %s: %v", url, err)
			}
			want = append(want, d...)
		}
		for _, id := range tpl.ofType("AWS::SQS::QueuePolicy") {
			d, err := templateQueuePolicy(tpl, id, params)
			if err != nil {
				t.Errorf("queue policy %s: %v", id, err)
				continue
			}
			have = append(have, d...)
		}
		sort.Strings(want)
		sort.Strings(have)
		if len(want) == 0 || !slices.Equal(have, want) {
			t.Errorf("queue policies:\n template %q\n init     %q", have, want)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		ids := tpl.ofType("AWS::SNS::Subscription")
		var want, have []string
		for _, in := range got.subscriptions {
			want = append(want, describeSubscription(arnName(aws.ToString(in.TopicArn)), aws.ToString(in.Protocol), arnName(aws.ToString(in.Endpoint)), in.Attributes))
		}
		for _, id := range ids {
			d, err := templateSubscription(tpl, id, params)
			if err != nil {
				t.Errorf("subscription %s: %v", id, err)
				continue
			}
			have = append(have, d)
		}
		sort.Strings(want)
		sort.Strings(have)
		if !slices.Equal(have, want) {
			t.Errorf("subscriptions:\n template %q\n init     %q", have, want)
		}
	})
}

// sameByName requires the template's resources of type typ and the ones init created
// (created, named by nameOf) to be the same set by physical name, and hands each pair to
// compare with its logical id.
func sameByName[T any](t *testing.T, tpl template, params map[string]string, typ, kind string, created []T, nameOf func(T) string, compare func(name, id string, in T)) {
	t.Helper()
	byName := namedResources(t, tpl, typ, params)
	for _, in := range created {
		name := nameOf(in)
		id, ok := byName[name]
		if !ok {
			t.Errorf("init creates %s %s; the template has no %s named so", kind, name, typ)
			continue
		}
		delete(byName, name)
		compare(name, id, in)
	}
	for name, id := range byName {
		t.Errorf("the template's %s %s (%s) is not one init creates", kind, name, id)
	}
}

// namedResources maps the physical name of each resource of type typ to its logical id.
func namedResources(t *testing.T, tpl template, typ string, params map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range tpl.ofType(typ) {
		name, err := tpl.nameOf(id, params)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if other, dup := out[name]; dup {
			t.Fatalf("%s and %s are both named %s", id, other, name)
		}
		out[name] = id
	}
	return out
}

// tableProperties are the table properties the comparison understands. Only those that
// init leaves at AWS's defaults may be added by the template: they change no key, index or
// name, and keep the event store safe (point-in-time recovery).
var (
	comparedTableProperties = []string{"TableName", "BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"}
	extraTableProperties    = []string{"PointInTimeRecoverySpecification"}
)

// compareTable returns how template table id differs from init's request in, or "".
func compareTable(tpl template, id string, in *dynamodb.CreateTableInput) string {
	props := tpl.Resources[id].Properties
	var diffs []string
	for k := range props {
		if !slices.Contains(comparedTableProperties, k) && !slices.Contains(extraTableProperties, k) {
			diffs = append(diffs, fmt.Sprintf("the template sets %s, which init does not", k))
		}
	}
	if in.LocalSecondaryIndexes != nil || in.StreamSpecification != nil || in.SSESpecification != nil ||
		in.ProvisionedThroughput != nil || in.TableClass != "" || in.Tags != nil || in.DeletionProtectionEnabled != nil {
		diffs = append(diffs, "init sets table options this test does not compare yet (local indexes, streams, encryption, capacity, class, tags or deletion protection): teach it and the template")
	}
	check := func(what, have, want string) {
		if have != want {
			diffs = append(diffs, fmt.Sprintf("%s: template %s, init %s", what, have, want))
		}
	}
	check("billing mode", fmt.Sprint(props["BillingMode"]), string(in.BillingMode))
	check("key schema", templateKeys(props["KeySchema"]), sdkKeys(in.KeySchema))

	var haveDefs, wantDefs []string
	for _, d := range asList(props["AttributeDefinitions"]) {
		haveDefs = append(haveDefs, fmt.Sprintf("%v:%v", asMap(d)["AttributeName"], asMap(d)["AttributeType"]))
	}
	for _, d := range in.AttributeDefinitions {
		wantDefs = append(wantDefs, aws.ToString(d.AttributeName)+":"+string(d.AttributeType))
	}
	sort.Strings(haveDefs)
	sort.Strings(wantDefs)
	check("attribute definitions", strings.Join(haveDefs, " "), strings.Join(wantDefs, " "))

	var haveIdx, wantIdx []string
	for _, g := range asList(props["GlobalSecondaryIndexes"]) {
		m := asMap(g)
		proj := asMap(m["Projection"])
		haveIdx = append(haveIdx, fmt.Sprintf("%v[%s] %v %v", m["IndexName"], templateKeys(m["KeySchema"]), proj["ProjectionType"], stringList(proj["NonKeyAttributes"])))
		for k := range m {
			if k != "IndexName" && k != "KeySchema" && k != "Projection" {
				diffs = append(diffs, fmt.Sprintf("index %v: the template sets %s, which init does not", m["IndexName"], k))
			}
		}
	}
	for _, g := range in.GlobalSecondaryIndexes {
		if g.ProvisionedThroughput != nil || g.OnDemandThroughput != nil || g.WarmThroughput != nil {
			diffs = append(diffs, fmt.Sprintf("index %s: init sets throughput this test does not compare yet", aws.ToString(g.IndexName)))
		}
		var nonKey []string
		if g.Projection != nil {
			nonKey = g.Projection.NonKeyAttributes
		}
		pt := ""
		if g.Projection != nil {
			pt = string(g.Projection.ProjectionType)
		}
		wantIdx = append(wantIdx, fmt.Sprintf("%s[%s] %s %v", aws.ToString(g.IndexName), sdkKeys(g.KeySchema), pt, sortedCopy(nonKey)))
	}
	sort.Strings(haveIdx)
	sort.Strings(wantIdx)
	check("global secondary indexes", strings.Join(haveIdx, "; "), strings.Join(wantIdx, "; "))
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

func templateKeys(v any) string {
	var parts []string
	for _, k := range asList(v) {
		parts = append(parts, fmt.Sprintf("%v:%v", asMap(k)["AttributeName"], asMap(k)["KeyType"]))
	}
	return strings.Join(parts, " ")
}

func sdkKeys(keys []ddbtypes.KeySchemaElement) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	return strings.Join(parts, " ")
}

func stringList(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

func sortedCopy(xs []string) []string {
	out := slices.Clone(xs)
	sort.Strings(out)
	return out
}

// arnName returns the last part of an SQS or SNS ARN: the queue's or topic's name.
func arnName(arn string) string { return arn[strings.LastIndex(arn, ":")+1:] }

// normalQueueAttributes returns init's queue attributes with the redrive policy's target
// reduced to the queue's name, which is what the template's !GetAtt names.
func normalQueueAttributes(attrs map[string]string) (map[string]string, error) {
	out := maps.Clone(attrs)
	if out == nil {
		out = map[string]string{}
	}
	if rp, ok := out["RedrivePolicy"]; ok {
		var p map[string]any
		if err := json.Unmarshal([]byte(rp), &p); err != nil {
			return nil, fmt.Errorf("redrive policy %q: %w", rp, err)
		}
		out["RedrivePolicy"] = fmt.Sprintf("target=%s maxReceiveCount=%v", arnName(fmt.Sprint(p["deadLetterTargetArn"])), p["maxReceiveCount"])
	}
	return out, nil
}

// templateQueueAttributes returns queue id's properties as SQS attributes, in the form of
// normalQueueAttributes. Its redrive policy's maxReceiveCount must be the MaxReceiveCount
// parameter, so that the stack's operator sets it as init's flag does.
func templateQueueAttributes(tpl template, id string, params map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range tpl.Resources[id].Properties {
		switch k {
		case "QueueName":
		case "RedrivePolicy":
			m := asMap(v)
			target := refersTo(m["deadLetterTargetArn"])
			if target == "" {
				return nil, fmt.Errorf("redrive target %v is not a !GetAtt of a queue", m["deadLetterTargetArn"])
			}
			name, err := tpl.nameOf(target, params)
			if err != nil {
				return nil, err
			}
			if ref := refersTo(m["maxReceiveCount"]); ref != "MaxReceiveCount" {
				return nil, fmt.Errorf("redrive maxReceiveCount is %v, want !Ref MaxReceiveCount", m["maxReceiveCount"])
			}
			n, err := tpl.intOf(m["maxReceiveCount"], params)
			if err != nil {
				return nil, err
			}
			out[k] = fmt.Sprintf("target=%s maxReceiveCount=%d", name, n)
		default:
			s, err := tpl.str(v, params)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = s
		}
	}
	return out, nil
}

func describeSubscription(topic, protocol, endpoint string, attrs map[string]string) string {
	keys := slices.Sorted(maps.Keys(attrs))
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+attrs[k])
	}
	return fmt.Sprintf("%s -%s-> %s {%s}", topic, protocol, endpoint, strings.Join(parts, " "))
}

// templateSubscription describes subscription id as describeSubscription does init's.
func templateSubscription(tpl template, id string, params map[string]string) (string, error) {
	props := tpl.Resources[id].Properties
	topicID, queueID := refersTo(props["TopicArn"]), refersTo(props["Endpoint"])
	if topicID == "" || queueID == "" {
		return "", fmt.Errorf("TopicArn and Endpoint must be a !Ref of the topic and a !GetAtt of the queue")
	}
	topic, err := tpl.nameOf(topicID, params)
	if err != nil {
		return "", err
	}
	queue, err := tpl.nameOf(queueID, params)
	if err != nil {
		return "", err
	}
	attrs := map[string]string{}
	for k, v := range props {
		switch k {
		case "TopicArn", "Endpoint", "Protocol":
			continue
		}
		s, err := tpl.str(v, params)
		if err != nil {
			return "", fmt.Errorf("%s: %w", k, err)
		}
		attrs[k] = s
	}
	return describeSubscription(topic, fmt.Sprint(props["Protocol"]), queue, attrs), nil
}

// queueStatement is one statement of a queue policy, the way both sides can say it.
type queueStatement struct {
	Effect    string
	Principal struct{ Service string }
	Action    string
	Resource  any
	Condition struct {
		ArnEquals map[string]any
	}
}

func (st queueStatement) describe(queue, resource, source string) string {
	return fmt.Sprintf("%s: %s %s %s on %s from %s", queue, st.Effect, st.Principal.Service, st.Action, resource, source)
}

// describeQueuePolicy describes each statement of the policy init set on queue.
func describeQueuePolicy(queue, doc string) ([]string, error) {
	var p struct{ Statement []queueStatement }
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, err
	}
	var out []string
	for _, st := range p.Statement {
		out = append(out, st.describe(queue, arnName(fmt.Sprint(st.Resource)), arnName(fmt.Sprint(st.Condition.ArnEquals["aws:SourceArn"]))))
	}
	return out, nil
}

// templateQueuePolicy describes template queue policy id as describeQueuePolicy does init's.
func templateQueuePolicy(tpl template, id string, params map[string]string) ([]string, error) {
	props := tpl.Resources[id].Properties
	name := func(v any) (string, error) {
		ref := refersTo(v)
		if ref == "" {
			return "", fmt.Errorf("%v is not a !Ref or !GetAtt Arn", v)
		}
		return tpl.nameOf(ref, params)
	}
	var p struct{ Statement []queueStatement }
	raw, err := json.Marshal(props["PolicyDocument"])
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	var out []string
	for _, q := range asList(props["Queues"]) {
		queue, err := name(q)
		if err != nil {
			return nil, err
		}
		for _, st := range p.Statement {
			resource, err := name(st.Resource)
			if err != nil {
				return nil, err
			}
			source, err := name(st.Condition.ArnEquals["aws:SourceArn"])
			if err != nil {
				return nil, err
			}
			out = append(out, st.describe(queue, resource, source))
		}
	}
	return out, nil
}
