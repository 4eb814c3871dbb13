package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestBatchRows_given_rows_then_batches_of_at_most_25_in_order(t *testing.T) {
	tests := []struct {
		name string
		rows int
		want []int
	}{
		{"given no rows then no batch", 0, nil},
		{"given one row then one batch", 1, []int{1}},
		{"given 25 rows then one full batch", 25, []int{25}},
		{"given 26 rows then a full batch and one of one", 26, []int{25, 1}},
		{"given 60 rows then two full batches and the rest", 60, []int{25, 25, 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := make([]finalRow, tt.rows)
			for i := range rows {
				rows[i] = finalRow{table: "builds", item: map[string]types.AttributeValue{"id": s(fmt.Sprint(i))}}
			}
			batches := batchRows(rows, floorBatchSize)
			var sizes []int
			var order []string
			for _, b := range batches {
				sizes = append(sizes, len(b))
				for _, r := range b {
					order = append(order, r.item["id"].(*types.AttributeValueMemberS).Value)
				}
			}
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("batch sizes %v, want %v", sizes, tt.want)
			}
			for i, id := range order {
				if id != fmt.Sprint(i) {
					t.Fatalf("row %d is %s: the batches lost the rows' order", i, id)
				}
			}
			if len(batches) > 1 && cap(batches[0]) != len(batches[0]) {
				t.Errorf("a batch has room to grow into the next one")
			}
		})
	}
}

func TestWriteRequests_given_rows_of_two_tables_then_puts_into_generation_zero_under_the_prefix(t *testing.T) {
	batch := []finalRow{
		{table: "builds", item: map[string]types.AttributeValue{"id": s("1")}},
		{table: "positions", item: map[string]types.AttributeValue{"id": s("2")}},
		{table: "builds", item: map[string]types.AttributeValue{"id": s("3")}},
	}
	got := writeRequests("p-floor-", batch)
	if len(got) != 2 || len(got["p-floor-builds"]) != 2 || len(got["p-floor-positions"]) != 1 {
		t.Fatalf("requests by table: %v", got)
	}
	if id := got["p-floor-builds"][1].PutRequest.Item["id"].(*types.AttributeValueMemberS).Value; id != "3" {
		t.Errorf("second put of builds is row %s, want 3", id)
	}
}

func TestWorkMarkdown_given_per_replayed_event_then_the_table_says_so(t *testing.T) {
	w := Work{Figure: "replay", Per: "replayed event",
		Ours: CommandWork{Commands: 100, DynamoDBRequests: 0.05, WCU: 0.7, Operations: map[string]OperationWork{
			"DynamoDB.BatchWriteItem": {Requests: 0.0361, WCU: 0.7}, "DynamoDB.CreateTable": {Requests: 0.00015},
		}},
		Raw: CommandWork{Commands: 100, DynamoDBRequests: 0.02, WCU: 0.7, Operations: map[string]OperationWork{"DynamoDB.BatchWriteItem": {Requests: 0.02, WCU: 0.7}}},
	}
	md := w.Markdown()
	for _, want := range []string{
		"Work per replayed event, replay (100 events ours, 100 raw;",
		"| Work per replayed event | Ours | Raw |",
		"| DynamoDB requests | 0.05 | 0.02 | +0.03 | BatchWriteItem 0.0361, CreateTable 0.00015 | BatchWriteItem 0.02 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"| RCU |", "| SQS+SNS requests |"} {
		if strings.Contains(md, absent) {
			t.Errorf("markdown has %q, zero on both sides:\n%s", absent, md)
		}
	}
}

// TestRun_SmallReplay runs a tiny replay figure and checks its floor row and the work per
// replayed event: the floor writes every row in requests of at most 25, and ours writes at
// least the floor's units.
func TestRun_SmallReplay(t *testing.T) {
	rep, _ := runSmall(t, Config{Figures: []string{FigureReplay}, ReplayEvents: 500, ReplaySmallEvents: 100, ReplaySegments: 2})
	var floor *Figure
	for i, f := range rep.Figures {
		if f.Name == "Replay vs scan + writes of the final rows" {
			floor = &rep.Figures[i]
		}
	}
	if floor == nil {
		t.Fatalf("no floor row in %+v", rep.Figures)
	}
	rows, requests := floor.Extra["rows"], floor.Extra["batch_requests"]
	if !(floor.Ours > 0) || !(floor.Raw > 0) || floor.Goal != replayFloorGoal || rows < 1 || requests < rows/floorBatchSize {
		t.Errorf("floor row %+v", *floor)
	}
	if len(rep.Work) != 1 || rep.Work[0].Per != "replayed event" {
		t.Fatalf("work %+v, want one entry per replayed event", rep.Work)
	}
	w := rep.Work[0]
	// Each side replays, or scans and writes, the 500 events in each of its rounds.
	if w.Ours.Commands != 500*floorRounds || w.Raw.Commands != 500*floorRounds {
		t.Errorf("events ours %d, raw %d; want %d each", w.Ours.Commands, w.Raw.Commands, 500*floorRounds)
	}
	if !(w.Raw.WCU > 0) || w.Ours.WCU < w.Raw.WCU || !(w.Raw.RCU > 0) {
		t.Errorf("ours %+v, raw %+v: want raw WCU and RCU positive and ours WCU at least raw's", w.Ours, w.Raw)
	}
}
