package dynamo_test

import (
	"strings"
	"testing"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo"
	"buildledger/eventstore/eventstoretest"
	"buildledger/internal/awstest"
)

// The unsharded layout of earlier versions (one time bucket a day) still passes the suite.
func TestConformance_given_one_time_shard(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) eventstore.Store {
		return newStore(t, dynamo.Config{TimeShards: 1})
	})
}

func TestConfig_given_time_shards_out_of_range_then_refused(t *testing.T) {
	client := awstest.DynamoDB(t)
	for _, tc := range []struct {
		name   string
		shards int
		ok     bool
	}{
		{name: "given_0_then_the_default", shards: 0, ok: true},
		{name: "given_1_then_unsharded", shards: 1, ok: true},
		{name: "given_64_then_accepted", shards: 64, ok: true},
		{name: "given_65_then_refused", shards: 65},
		{name: "given_negative_then_refused", shards: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dynamo.New(dynamo.Config{Client: client, EventsTable: "e", CommandsTable: "c", TimeShards: tc.shards})
			if (err == nil) != tc.ok {
				t.Fatalf("New with TimeShards %d: %v", tc.shards, err)
			}
			if err != nil && !strings.Contains(err.Error(), "TimeShards") {
				t.Errorf("error %q does not name TimeShards", err)
			}
		})
	}
}
