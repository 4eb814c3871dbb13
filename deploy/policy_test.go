package deploy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"buildledger/handlers"
	"buildledger/internal/webhooks"
	"buildledger/projections"
)

// Fixed values of the pseudo parameters under which the policies are evaluated.
const (
	testPartition = "aws"
	testRegion    = "eu-west-1"
	testAccount   = "123456789012"
)

// policyEval answers whether a managed policy of the template allows an action on a
// resource, as IAM's wildcard matching does, with the template's names under one prefix.
type policyEval struct {
	t      *testing.T
	tpl    template
	params map[string]string
}

func (e policyEval) tableArn(name string) string {
	return fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", testPartition, testRegion, testAccount, name)
}

func (e policyEval) queueArn(name string) string {
	return fmt.Sprintf("arn:%s:sqs:%s:%s:%s", testPartition, testRegion, testAccount, name)
}

func (e policyEval) topicArn(name string) string {
	return fmt.Sprintf("arn:%s:sns:%s:%s:%s", testPartition, testRegion, testAccount, name)
}

// arnOf returns the ARN of template resource id.
func (e policyEval) arnOf(id string) string {
	e.t.Helper()
	name, err := e.tpl.nameOf(id, e.params)
	if err != nil {
		e.t.Fatalf("policy resource: %v", err)
	}
	switch e.tpl.Resources[id].Type {
	case "AWS::DynamoDB::Table":
		return e.tableArn(name)
	case "AWS::SQS::Queue":
		return e.queueArn(name)
	case "AWS::SNS::Topic":
		return e.topicArn(name)
	}
	e.t.Fatalf("policy resource %s: no ARN for type %s", id, e.tpl.Resources[id].Type)
	return ""
}

var subRef = regexp.MustCompile(`\$\{([^}]+)\}`)

// resource evaluates one Resource entry of a policy statement to an ARN pattern.
func (e policyEval) resource(v any) string {
	e.t.Helper()
	if s, ok := v.(string); ok {
		return s
	}
	m := asMap(v)
	if sub, ok := m["Fn::Sub"].(string); ok {
		return subRef.ReplaceAllStringFunc(sub, func(x string) string {
			name := subRef.FindStringSubmatch(x)[1]
			switch name {
			case "AWS::Partition":
				return testPartition
			case "AWS::Region":
				return testRegion
			case "AWS::AccountId":
				return testAccount
			}
			if id, ok := strings.CutSuffix(name, ".Arn"); ok {
				return e.arnOf(id)
			}
			if p, ok := e.params[name]; ok {
				return p
			}
			e.t.Fatalf("policy resource %q: unknown ${%s}", sub, name)
			return ""
		})
	}
	if id := refersTo(v); id != "" {
		return e.arnOf(id)
	}
	e.t.Fatalf("policy resource %v: cannot evaluate", v)
	return ""
}

// statements returns policy id's statements.
func (e policyEval) statements(id string) []map[string]any {
	e.t.Helper()
	r, ok := e.tpl.Resources[id]
	if !ok || r.Type != "AWS::IAM::ManagedPolicy" {
		e.t.Fatalf("no managed policy %s", id)
	}
	var out []map[string]any
	for _, s := range asList(asMap(r.Properties["PolicyDocument"])["Statement"]) {
		out = append(out, asMap(s))
	}
	return out
}

func oneOrMany(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// globMatch reports whether s matches an IAM pattern: * any run of characters, ? one.
func globMatch(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// allows reports whether policy id allows action on arn.
func (e policyEval) allows(id, action, arn string) bool {
	e.t.Helper()
	for _, s := range e.statements(id) {
		if s["Effect"] != "Allow" {
			continue
		}
		actionOK := false
		for _, a := range oneOrMany(s["Action"]) {
			if globMatch(strings.ToLower(fmt.Sprint(a)), strings.ToLower(action)) {
				actionOK = true
			}
		}
		if !actionOK {
			continue
		}
		for _, r := range oneOrMany(s["Resource"]) {
			if globMatch(e.resource(r), arn) {
				return true
			}
		}
	}
	return false
}

// grant is one permission a role needs or must not have.
type grant struct {
	actions []string
	arns    []string
}

// TestPoliciesAreLeastPrivilege evaluates the managed policies on the names the code
// derives (handlers.NewNames, projections.Schemas and PhysicalName, generations included):
// each role may do what it does, and nothing on another installation's resources.
func TestPoliciesAreLeastPrivilege(t *testing.T) {
	tpl := loadTemplate(t)
	params := tpl.defaults()
	prefix := params["Prefix"]
	n, err := handlers.NewNames(prefix)
	if err != nil {
		t.Fatal(err)
	}
	e := policyEval{t: t, tpl: tpl, params: params}
	table := e.tableArn

	var readTables, readTablesNow, readIndexes []string // every generation; generation 0 only
	var positions []string
	for _, s := range projections.Schemas() {
		if !s.Generational {
			continue
		}
		for _, gen := range []int64{0, 3, 12} {
			name := projections.PhysicalName(prefix, projections.Table{Name: s.Name, Generation: gen})
			readTables = append(readTables, table(name))
			if gen == 0 {
				readTablesNow = append(readTablesNow, table(name))
			}
			if s.Name == projections.TablePositions {
				positions = append(positions, table(name))
			}
			for _, ix := range s.Indexes {
				readIndexes = append(readIndexes, table(name)+"/index/"+ix.Name)
			}
		}
	}
	readModel := table(projections.PhysicalName(prefix, projections.Table{Name: projections.TableReadModel}))
	events, commands, snapshots := table(n.EventsTable), table(n.CommandsTable), table(n.SnapshotsTable)
	subscriptions := table(webhooks.TableName(prefix))
	timeIndex := events + "/index/byTime"
	q := e.queueArn
	consumed := []string{q(n.CommandsQueue), q(n.ProjectorQueue), q(n.TimersQueue)}
	dlqs := []string{q(n.CommandsDLQ), q(n.ProjectorDLQ), q(n.TimersDLQ)}
	allQueues := append(append([]string{}, consumed...), dlqs...)
	topic := e.topicArn(n.EventsTopic)
	all := append(append(append([]string{events, commands, snapshots, subscriptions, readModel, timeIndex}, readTables...), readIndexes...), allQueues...)
	all = append(all, topic)
	writes := []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
		"dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "sqs:SendMessage", "sqs:DeleteMessage", "sqs:PurgeQueue", "sns:Publish", "sns:CreateTopic"}
	reads := []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"}

	cases := []struct {
		policy string
		may    []grant
		mayNot []grant
	}{
		{
			policy: "WorkerPolicy",
			may: []grant{
				{[]string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"}, []string{events}},
				{[]string{"dynamodb:Query"}, []string{timeIndex}},
				{[]string{"dynamodb:GetItem", "dynamodb:PutItem"}, []string{commands, snapshots}},
				{[]string{"dynamodb:GetItem"}, []string{readModel}},
				{[]string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, readTables},
				{[]string{"dynamodb:Query"}, readIndexes},
				{[]string{"sqs:GetQueueUrl"}, allQueues},
				{[]string{"sqs:ReceiveMessage", "sqs:DeleteMessage"}, consumed},
				{[]string{"sqs:SendMessage"}, append([]string{q(n.TimersQueue)}, dlqs...)},
				{[]string{"sns:Publish", "sns:CreateTopic"}, []string{topic}},
				{[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan"}, []string{subscriptions}},
			},
			mayNot: []grant{
				{[]string{"dynamodb:DeleteItem", "dynamodb:UpdateItem", "dynamodb:CreateTable", "dynamodb:DeleteTable"}, []string{events, commands}},
				{[]string{"dynamodb:CreateTable", "dynamodb:DeleteTable"}, readTables},
				{[]string{"sqs:SendMessage"}, []string{q(n.CommandsQueue), q(n.ProjectorQueue)}},
				{[]string{"dynamodb:DeleteItem", "dynamodb:DeleteTable"}, []string{subscriptions}},
			},
		},
		{
			policy: "CommandSenderPolicy",
			may: []grant{
				{[]string{"sqs:SendMessage"}, []string{q(n.CommandsQueue)}},
				{[]string{"sqs:GetQueueUrl"}, allQueues},
				{[]string{"sns:CreateTopic"}, []string{topic}},
				{[]string{"dynamodb:GetItem", "dynamodb:PutItem"}, []string{commands}},
				{[]string{"dynamodb:Query"}, []string{events}},
				{[]string{"dynamodb:GetItem"}, append([]string{readModel}, positions...)},
				{[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan"}, []string{subscriptions}},
			},
			mayNot: []grant{
				{[]string{"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"}, append(append([]string{}, dlqs...), q(n.ProjectorQueue), q(n.TimersQueue))},
				{[]string{"sqs:ReceiveMessage", "sqs:DeleteMessage"}, []string{q(n.CommandsQueue)}},
				{[]string{"sns:Publish"}, []string{topic}},
				{[]string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"}, append([]string{events, snapshots, readModel}, readTables...)},
			},
		},
		{
			policy: "ReaderPolicy",
			may: []grant{
				{reads, append([]string{events, commands, readModel}, readTables...)},
				{[]string{"dynamodb:Query"}, append([]string{timeIndex}, readIndexes...)},
			},
			mayNot: []grant{{writes, all}},
		},
		{
			policy: "ReplayPolicy",
			may: []grant{
				{[]string{"dynamodb:ListTables"}, []string{"*"}},
				{[]string{"dynamodb:Scan", "dynamodb:DescribeTable"}, []string{events}},
				{[]string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}, []string{readModel}},
				{[]string{"dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:DeleteTable"}, readTables},
			},
			mayNot: []grant{
				{[]string{"dynamodb:DeleteTable", "dynamodb:CreateTable", "dynamodb:PutItem", "dynamodb:DeleteItem"}, []string{events, commands, snapshots}},
				{[]string{"dynamodb:DeleteTable"}, []string{readModel}},
			},
		},
	}
	// Another installation whose prefix starts with this one's must stay out of reach.
	other, err := handlers.NewNames(prefix + "staging-")
	if err != nil {
		t.Fatal(err)
	}
	others := []string{table(other.EventsTable), table(other.CommandsTable), table(other.SnapshotsTable), table(webhooks.TableName(prefix + "staging-")), q(other.CommandsQueue), e.topicArn(other.EventsTopic)}
	for _, s := range projections.Schemas() {
		others = append(others, table(projections.PhysicalName(prefix+"staging-", projections.Table{Name: s.Name})))
	}
	every := append(append(append([]string{}, writes...), reads...), "sqs:ReceiveMessage", "sqs:GetQueueUrl", "dynamodb:DescribeTable")
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			e.t = t
			for _, g := range c.may {
				for _, a := range g.actions {
					for _, arn := range g.arns {
						if !e.allows(c.policy, a, arn) {
							t.Errorf("%s does not allow %s on %s", c.policy, a, arn)
						}
					}
				}
			}
			for _, g := range append(c.mayNot, grant{every, others}) {
				for _, a := range g.actions {
					for _, arn := range g.arns {
						if e.allows(c.policy, a, arn) {
							t.Errorf("%s allows %s on %s", c.policy, a, arn)
						}
					}
				}
			}
			for _, s := range e.statements(c.policy) {
				for _, a := range oneOrMany(s["Action"]) {
					if strings.Contains(fmt.Sprint(a), "*") {
						t.Errorf("%s: statement %v grants the wildcard action %v", c.policy, s["Sid"], a)
					}
				}
				for _, r := range oneOrMany(s["Resource"]) {
					if r == "*" && fmt.Sprint(oneOrMany(s["Action"])) != "[dynamodb:ListTables]" {
						t.Errorf("%s: statement %v grants %v on every resource; only dynamodb:ListTables needs that", c.policy, s["Sid"], s["Action"])
					}
				}
			}
		})
	}
}

// TestInitPolicyIsExactlyWhatInitUses runs what `buildledger init` runs against the
// emulators and checks the init policy both ways: it allows every request init made, on
// the resource init made it on, and it grants no action init did not use.
func TestInitPolicyIsExactlyWhatInitUses(t *testing.T) {
	tpl := loadTemplate(t)
	prefix, got := runInit(t, handlers.MessagingConfig{})
	params := tpl.defaults()
	params["Prefix"] = prefix
	e := policyEval{t: t, tpl: tpl, params: params}
	used := map[string]bool{}
	for _, c := range got.calls {
		var arn string
		switch c.service {
		case "dynamodb":
			arn = e.tableArn(c.name)
		case "sqs":
			arn = e.queueArn(c.name)
		case "sns":
			arn = e.topicArn(c.name)
		default:
			t.Fatalf("init called %s, of a service the policy does not cover", c.action)
		}
		used[strings.ToLower(c.action)] = true
		if !e.allows("InitPolicy", c.action, arn) {
			t.Errorf("the init policy does not allow %s on %s, which init calls", c.action, arn)
		}
	}
	if len(used) == 0 {
		t.Fatal("init made no request")
	}
	for _, s := range e.statements("InitPolicy") {
		for _, a := range oneOrMany(s["Action"]) {
			if !used[strings.ToLower(fmt.Sprint(a))] {
				t.Errorf("the init policy grants %v, which init never calls", a)
			}
		}
	}
}
