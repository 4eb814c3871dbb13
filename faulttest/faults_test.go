package faulttest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"buildledger/handlers"
	"buildledger/internal/awstest"
	"buildledger/internal/faults"
)

// faultRate is the share of the worker's AWS calls that fail.
const faultRate = 0.15

// sdkAttempts is how often the SDK tries one call: the SDK's default, so that some calls
// fail for good and the worker's own retries, nacks and redeliveries are exercised too.
const sdkAttempts = 3

// byService sends SQS calls (JSON protocol, X-Amz-Target AmazonSQS.*) to one transport and
// the rest (SNS) to another, so that the faults of each service are counted apart.
type byService struct{ sqs, sns http.RoundTripper }

func (b byService) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.Header.Get("X-Amz-Target"), "AmazonSQS") {
		return b.sqs.RoundTrip(req)
	}
	return b.sns.RoundTrip(req)
}

func TestFaults_GivenWorkerBehindInjectedAWSFaults_When1000CommandsSent_ThenEachTakesEffectOnceAndReadModelsEqualReplay(t *testing.T) {
	t.Parallel()
	const streams, perStream = 50, 20
	start := time.Now()
	s := newStack(t, "faults", stackConfig{})

	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	transports := map[string]*faults.Transport{}
	for i, service := range []string{"dynamodb", "sqs", "sns"} {
		tr, err := faults.New(faults.Config{Next: base, Rate: faultRate, Seed: uint64(time.Now().UnixNano()) + uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		transports[service] = tr
	}
	messaging := s.aws.Copy()
	messaging.HTTPClient = &http.Client{Transport: byService{sqs: transports["sqs"], sns: transports["sns"]}}
	messaging.Retryer = func() aws.Retryer { return awstest.FastRetryer(sdkAttempts) }
	messaging.RetryMaxAttempts = sdkAttempts
	ddb := dynamoClient(s.aws, "", func(o *dynamodb.Options) {
		o.HTTPClient = &http.Client{Transport: transports["dynamodb"]}
		o.Retryer = awstest.FastRetryer(sdkAttempts)
		o.RetryMaxAttempts = sdkAttempts
	})
	w, stop := s.startWorker(t, workerConfig{AWS: &messaging, DynamoDB: ddb, SnapshotEvery: 5, Parallelism: 16})

	// The client is not behind the faults: what it sends arrives.
	plans := acceptableWorkload("f", streams, perStream)
	if err := sendPlans(context.Background(), s.client, plans, 0, perStream); err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	s.waitStreams(t, plans, perStream, 150*time.Second)
	decided := time.Since(start)
	s.waitProjected(t, plans, 60*time.Second)
	projected := time.Since(start)
	stop()
	for _, tr := range transports {
		tr.SetEnabled(false)
	}

	s.checkExactlyOnce(t, plans)
	s.checkReplayMatches(t)
	s.checkNoDeadLetters(t)

	totals := map[faults.Kind]int64{}
	for _, service := range []string{"dynamodb", "sqs", "sns"} {
		tr := transports[service]
		var parts []string
		for k := faults.Throttle; k <= faults.ResetAfter; k++ {
			n := tr.Injected()[k]
			totals[k] += n
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		t.Logf("faults injected into %s: %s (of %d calls)", service, strings.Join(parts, ", "), tr.Total()+tr.Passed())
	}
	for k := faults.Throttle; k <= faults.ResetAfter; k++ {
		if totals[k] == 0 {
			t.Errorf("no %s fault was injected: the run proves less than it claims", k)
		}
	}
	if transports["dynamodb"].Injected()[faults.ResetAfter] == 0 {
		t.Error("no DynamoDB response was lost after the call: the run proves less than it claims")
	}
	m := w.Metrics()
	t.Logf("faults injected in total: throttle %d, server-error %d, timeout %d, reset-before %d, reset-after %d",
		totals[faults.Throttle], totals[faults.ServerError], totals[faults.Timeout], totals[faults.ResetBefore], totals[faults.ResetAfter])
	t.Logf("worker: %v accepted, %v duplicate deliveries, %v version conflicts, %v snapshots taken, %v failed",
		testutil.ToFloat64(m.Commands.WithLabelValues(handlers.LabelAccepted)), testutil.ToFloat64(m.Duplicates),
		testutil.ToFloat64(m.Conflicts), testutil.ToFloat64(m.SnapshotsTaken), testutil.ToFloat64(m.SnapshotsFailed))
	t.Logf("%d commands sent after %v, all decided after %v, all projected after %v, checked after %v",
		streams*perStream, sent.Round(time.Millisecond), decided.Round(time.Millisecond), projected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
