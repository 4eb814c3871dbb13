package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"buildledger/internal/costmeter"
)

// Work is what each side of a figure asked of AWS per accepted command (or per what Per
// names), as the cost meter counted it on the side's own clients during the side's rounds.
// Unlike rates, these numbers do not depend on how fast the machine is.
type Work struct {
	// Figure names the figure the work was counted in.
	Figure string `json:"figure"`
	// Per is what the counts are divided by, e.g. "replayed event"; empty for an accepted
	// command.
	Per string `json:"per,omitempty"`
	// Ours is buildledger's side.
	Ours CommandWork `json:"ours"`
	// Raw is the raw baseline's side.
	Raw CommandWork `json:"raw"`
}

// CommandWork is one side's work per accepted command.
type CommandWork struct {
	// Commands is how many commands were accepted (or, when the Work's Per says so, events
	// replayed): what the counts are divided by.
	Commands int `json:"commands"`
	// DynamoDBRequests are DynamoDB requests per command.
	DynamoDBRequests float64 `json:"dynamodbRequests"`
	// WCU are write capacity units per command, index writes included.
	WCU float64 `json:"wcu"`
	// IndexWCU is the share of WCU written to secondary indexes.
	IndexWCU float64 `json:"indexWcu"`
	// RCU are read capacity units per command.
	RCU float64 `json:"rcu"`
	// MessagingRequests are SQS and SNS requests per command.
	MessagingRequests float64 `json:"sqsSnsRequests"`
	// Operations is the same per operation ("DynamoDB.TransactWriteItems", "SQS.SendMessage").
	Operations map[string]OperationWork `json:"operations"`
}

// OperationWork is one operation's share of a side's work per command.
type OperationWork struct {
	// Requests are the operation's requests per command.
	Requests float64 `json:"requests"`
	// Entries are the items or messages they carried per command.
	Entries float64 `json:"entries"`
	// WCU and RCU are its capacity units per command.
	WCU float64 `json:"wcu,omitempty"`
	RCU float64 `json:"rcu,omitempty"`
}

// newCommandWork divides the counts of a side's rounds by its accepted commands.
func newCommandWork(c costmeter.Counts, commands int) CommandWork {
	w := CommandWork{Commands: commands, Operations: map[string]OperationWork{}}
	if commands == 0 {
		return w
	}
	per := func(v float64) float64 { return v / float64(commands) }
	for _, op := range c.Ops() {
		u := c.Of(op)
		w.Operations[op.String()] = OperationWork{
			Requests: per(float64(u.Requests)), Entries: per(float64(u.Entries)),
			WCU: per(u.WriteUnits), RCU: per(u.ReadUnits),
		}
	}
	ddb := c.Service(costmeter.ServiceDynamoDB)
	w.DynamoDBRequests = per(float64(ddb.Requests))
	w.WCU, w.IndexWCU, w.RCU = per(ddb.WriteUnits), per(ddb.IndexWriteUnits), per(ddb.ReadUnits)
	w.MessagingRequests = per(float64(c.Service(costmeter.ServiceSQS).Requests + c.Service(costmeter.ServiceSNS).Requests))
	return w
}

// Markdown returns the work as a table of ours, raw and the difference, with the
// operations behind each row; a row that is zero on both sides is left out.
func (w Work) Markdown() string {
	per, counted := w.units()
	var b strings.Builder
	fmt.Fprintf(&b, "Work per %s, %s (%s %s ours, %s raw; counted by the cost meter, independent of machine noise)\n\n",
		per, w.Figure, thousands(int64(w.Ours.Commands)), counted, thousands(int64(w.Raw.Commands)))
	fmt.Fprintf(&b, "| Work per %s | Ours | Raw | Above raw | Ours by operation | Raw by operation |\n", per)
	b.WriteString("| --- | ---: | ---: | ---: | --- | --- |\n")
	rows := []struct {
		name       string
		ours, raw  float64
		services   []string
		of         func(OperationWork) float64
		indexShare bool
	}{
		{"DynamoDB requests", w.Ours.DynamoDBRequests, w.Raw.DynamoDBRequests, []string{costmeter.ServiceDynamoDB}, func(o OperationWork) float64 { return o.Requests }, false},
		{"WCU", w.Ours.WCU, w.Raw.WCU, []string{costmeter.ServiceDynamoDB}, func(o OperationWork) float64 { return o.WCU }, true},
		{"RCU", w.Ours.RCU, w.Raw.RCU, []string{costmeter.ServiceDynamoDB}, func(o OperationWork) float64 { return o.RCU }, false},
		{"SQS+SNS requests", w.Ours.MessagingRequests, w.Raw.MessagingRequests, []string{costmeter.ServiceSQS, costmeter.ServiceSNS}, func(o OperationWork) float64 { return o.Requests }, false},
	}
	for _, r := range rows {
		if r.ours == 0 && r.raw == 0 {
			continue
		}
		oursOps, rawOps := byOperation(w.Ours, r.services, r.of), byOperation(w.Raw, r.services, r.of)
		if r.indexShare {
			oursOps += indexNote(w.Ours)
			rawOps += indexNote(w.Raw)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.name, workValue(r.ours), workValue(r.raw),
			signed(r.ours-r.raw), cell(oursOps), cell(rawOps))
	}
	return b.String()
}

// units returns what the counts are divided by ("accepted command") and the plural of
// its noun ("commands").
func (w Work) units() (per, counted string) {
	per = w.Per
	if per == "" {
		per = "accepted command"
	}
	words := strings.Fields(per)
	return per, words[len(words)-1] + "s"
}

// byOperation lists the operations of services with a non-zero value, in name order.
func byOperation(w CommandWork, services []string, of func(OperationWork) float64) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(w.Operations)) {
		service, op, _ := strings.Cut(name, ".")
		v := of(w.Operations[name])
		if v == 0 || !slices.Contains(services, service) {
			continue
		}
		if len(services) > 1 {
			op = name
		}
		parts = append(parts, op+" "+workValue(v))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func indexNote(w CommandWork) string {
	if w.IndexWCU == 0 {
		return ""
	}
	return "; of which index writes " + workValue(w.IndexWCU)
}

func signed(v float64) string {
	if v > 0 {
		return "+" + workValue(v)
	}
	return workValue(v)
}

// workValue prints a count of work as formatValue does, except a non-zero one below 0.1
// (requests per replayed event, say), which it prints with three significant digits
// rather than two decimals.
func workValue(v float64) string {
	if v != 0 && math.Abs(v) < 0.1 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return formatValue(v, "")
}

// settleQuiet is how long a side's clients must send nothing but receives for the work
// of its round to count as done; settleMax bounds the wait.
const (
	settleQuiet = 300 * time.Millisecond
	settleMax   = 5 * time.Second
)

// settledCounts waits, after a round, until m counts no request but receives for
// settleQuiet (at most settleMax), and returns its counts then: the acknowledgements that
// follow a command becoming visible belong to the round that sent it.
func settledCounts(ctx context.Context, m *costmeter.Meter) costmeter.Counts {
	deadline := time.Now().Add(settleMax)
	last, quietSince := busy(m.Snapshot()), time.Now()
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		c := m.Snapshot()
		if n := busy(c); n != last {
			last, quietSince = n, time.Now()
			continue
		}
		if time.Since(quietSince) >= settleQuiet {
			return c
		}
	}
	return m.Snapshot()
}

// busy counts the requests that are work rather than waiting for it: all but receives.
func busy(c costmeter.Counts) int64 {
	var n int64
	for _, op := range c.Ops() {
		if op.Operation != "ReceiveMessage" {
			n += c.Of(op).Requests
		}
	}
	return n
}
