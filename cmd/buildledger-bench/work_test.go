package main

import (
	"strings"
	"testing"
)

func TestMarkdown_given_work_then_a_second_table_per_command_with_the_difference_and_operations(t *testing.T) {
	rep := Report{Date: "d", Machine: "m", Figures: []Figure{newFigure("End to end", "commands/s", 1, 2, 0.7, false)},
		Work: []Work{{
			Figure: "end to end",
			Ours: CommandWork{Commands: 10, DynamoDBRequests: 3, WCU: 12, IndexWCU: 2, RCU: 4, MessagingRequests: 6, Operations: map[string]OperationWork{
				"DynamoDB.TransactWriteItems": {Requests: 2, WCU: 12}, "DynamoDB.GetItem": {Requests: 1, RCU: 4}, "SNS.Publish": {Requests: 1},
			}},
			Raw: CommandWork{Commands: 10, DynamoDBRequests: 1, WCU: 8, MessagingRequests: 3, Operations: map[string]OperationWork{
				"DynamoDB.TransactWriteItems": {Requests: 1, WCU: 8},
			}},
		}}}
	md := rep.Markdown()
	for _, want := range []string{
		"Work per accepted command, end to end (10 commands ours, 10 raw",
		"| DynamoDB requests | 3.00 | 1.00 | +2.00 | GetItem 1.00, TransactWriteItems 2.00 | TransactWriteItems 1.00 |",
		"| WCU | 12.0 | 8.00 | +4.00 | TransactWriteItems 12.0; of which index writes 2.00 | TransactWriteItems 8.00 |",
		"| RCU | 4.00 | 0.00 | +4.00 | GetItem 4.00 | — |",
		"| SQS+SNS requests | 6.00 | 3.00 | +3.00 | SNS.Publish 1.00 | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if got := strings.Count(md, "\n| --- |"); got != 2 {
		t.Errorf("got %d tables, want the figures' and the work's:\n%s", got, md)
	}
	if noWork := (Report{Figures: rep.Figures}).Markdown(); strings.Contains(noWork, "Work per") {
		t.Errorf("without work, the report has no work table:\n%s", noWork)
	}
}

// TestRun_SmallEndToEnd runs a tiny end-to-end figure and checks the work it counted: the
// raw path does one send, one transaction and one delete per command (retries aside), and
// ours at least as much.
func TestRun_SmallEndToEnd(t *testing.T) {
	rep, _ := runSmall(t, Config{Figures: []string{FigureE2E}, Rounds: 2, E2ECommands: 40, E2EStreams: 4, E2EParallelism: 4})
	if len(rep.Work) != 1 {
		t.Fatalf("got %d work entries, want 1", len(rep.Work))
	}
	w := rep.Work[0]
	if w.Ours.Commands != 40 || w.Raw.Commands != 40 {
		t.Errorf("commands ours %d, raw %d; want 40 each", w.Ours.Commands, w.Raw.Commands)
	}
	for _, op := range []string{"DynamoDB.TransactWriteItems", "SQS.SendMessage", "SQS.DeleteMessage"} {
		// A retried request counts again: allow a few.
		if got := w.Raw.Operations[op].Requests; got < 1 || got > 1.1 {
			t.Errorf("raw %s: %v per command, want 1", op, got)
		}
		if got := w.Ours.Operations[op].Requests; got < 1 {
			t.Errorf("ours %s: %v per command, want at least 1", op, got)
		}
	}
	if !(w.Raw.WCU > 0) || w.Ours.WCU < w.Raw.WCU || w.Ours.DynamoDBRequests < w.Raw.DynamoDBRequests {
		t.Errorf("ours %+v, raw %+v: want raw WCU positive and ours at least raw's", w.Ours, w.Raw)
	}
	// The round at one time index shard writes every event of the day to one partition.
	var index *Figure
	for i, f := range rep.Figures {
		if strings.HasPrefix(f.Name, "Time index") {
			index = &rep.Figures[i]
		}
	}
	if index == nil {
		t.Fatalf("no time index figure in %+v", rep.Figures)
	}
	if x := index.Extra; x["measured_1shard_commands"] != 8 || x["measured_1shard_index_writes"] < 8 || x["measured_1shard_partitions"] != 1 || x["measured_1shard_hottest_share"] != 1 {
		t.Errorf("measured at 1 shard: %v", x)
	}
}
