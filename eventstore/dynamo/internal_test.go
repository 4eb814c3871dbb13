package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"buildledger/eventstore"
	"buildledger/eventstore/dynamo/layout"
)

func TestItemSize_given_records_and_outcomes_then_equals_the_port_count(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	records := []eventstore.Record{
		{Stream: "repo:a/b", Version: 1, Key: "20240102T030405600000010042", Type: "T", Body: json.RawMessage(`{}`), RecordedAt: at},
		{Stream: "status:ü/dev/1", Version: 1_000_000, Key: "20240102T030405600000010042", Type: "Ünïcode", Body: json.RawMessage(`{"x":"ÿ"}`),
			CommandID: "c", Metadata: eventstore.Metadata{CorrelationID: "corr", CausationID: "cause"}, RecordedAt: at.Add(123)},
		{Stream: "s", Version: 123_456_789, Key: "20240102T030405600000010042", Type: "T", Body: json.RawMessage(strings.Repeat("1", 1000)), RecordedAt: at},
		{Stream: "lock:prod", Version: 2, Key: "20240102T030405600000010042", Type: "Locked", Body: json.RawMessage(`{}`), RecordedAt: at,
			Metadata: eventstore.Metadata{SenderID: "000000000000", Identity: eventstore.Identity{Issuer: "https://i", Subject: "s", RunID: "7", Actor: "ännа"}}},
	}
	for i, r := range records {
		if got, want := itemSize(eventItem(r)), layout.RecordSize(r); got != want {
			t.Errorf("record %d: item size %d, RecordSize %d", i, got, want)
		}
	}
	outcomes := []eventstore.Outcome{
		{CommandID: "c", Status: eventstore.OutcomeAccepted, Version: 0, RecordedAt: at},
		{CommandID: "c", CommandType: "Lock", Status: eventstore.OutcomeAccepted, Stream: "lock:x", FirstVersion: 3, LastVersion: 40, Version: 40, BodyHash: "h", RecordedAt: at},
		{CommandID: "c", Status: eventstore.OutcomeRejected, Reason: "Still locked at env prod by ann", Version: 9, RecordedAt: at},
		{CommandID: "c", Status: eventstore.OutcomeRejected, Code: eventstore.RejectionUnauthenticated, SenderID: "AIDAEXAMPLE", RecordedAt: at,
			Identity: eventstore.Identity{Issuer: "https://i", Subject: "s", Repository: "o/r", Ref: "refs/heads/main", Workflow: "w"}},
	}
	for i, o := range outcomes {
		if got, want := itemSize(outcomeItem(o)), layout.OutcomeSize(o); got != want {
			t.Errorf("outcome %d: item size %d, OutcomeSize %d", i, got, want)
		}
	}
}

func canceled(codes ...string) error {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i] = types.CancellationReason{Code: aws.String(c)}
	}
	// The SDK hands the exception over wrapped in operation errors.
	return fmt.Errorf("operation TransactWriteItems: %w", &types.TransactionCanceledException{Message: aws.String("canceled"), CancellationReasons: reasons})
}

func TestTranslateWriteError(t *testing.T) {
	appendRoles := []itemRole{roleEvent, roleEvent, roleOutcome, roleExpectedCheck}
	target := writeTarget{stream: "repo:a/b", expectedVersion: 4, commandID: "cmd-1"}
	other := errors.New("connection reset")
	tests := []struct {
		name  string
		err   error
		roles []itemRole
		want  error
	}{
		{"given_failed_outcome_condition_then_duplicate", canceled("None", "None", "ConditionalCheckFailed", "None"), appendRoles, eventstore.ErrDuplicateCommand},
		{"given_failed_outcome_and_event_conditions_then_duplicate_wins", canceled("ConditionalCheckFailed", "None", "ConditionalCheckFailed", "ConditionalCheckFailed"), appendRoles, eventstore.ErrDuplicateCommand},
		{"given_failed_event_condition_then_conflict", canceled("None", "ConditionalCheckFailed", "None", "None"), appendRoles, eventstore.ErrVersionConflict},
		{"given_failed_expected_version_check_then_conflict", canceled("None", "None", "None", "ConditionalCheckFailed"), appendRoles, eventstore.ErrVersionConflict},
		{"given_transaction_conflict_then_conflict", canceled("TransactionConflict", "None", "None", "None"), appendRoles, eventstore.ErrVersionConflict},
		{"given_throttling_then_wrapped_as_is", canceled("ThrottlingError", "None", "None", "None"), appendRoles, nil},
		{"given_plain_condition_failure_on_outcome_then_duplicate", fmt.Errorf("op: %w", &types.ConditionalCheckFailedException{}), []itemRole{roleOutcome}, eventstore.ErrDuplicateCommand},
		{"given_plain_condition_failure_on_event_then_conflict", &types.ConditionalCheckFailedException{}, []itemRole{roleEvent}, eventstore.ErrVersionConflict},
		{"given_other_error_then_wrapped_as_is", other, appendRoles, other},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := translateWriteError(tt.err, "append to repo:a/b", tt.roles, target)
			switch {
			case tt.want == nil:
				if errors.Is(got, eventstore.ErrDuplicateCommand) || errors.Is(got, eventstore.ErrVersionConflict) || !errors.Is(got, tt.err) {
					t.Errorf("got %v, want the original error wrapped", got)
				}
			case !errors.Is(got, tt.want):
				t.Errorf("got %v, want %v", got, tt.want)
			}
			var conflict *eventstore.ConflictError
			if errors.As(got, &conflict) && (conflict.Stream != "repo:a/b" || conflict.ExpectedVersion != 4) {
				t.Errorf("conflict carries %s at %d", conflict.Stream, conflict.ExpectedVersion)
			}
			var dup *eventstore.DuplicateCommandError
			if errors.As(got, &dup) && dup.CommandID != "cmd-1" {
				t.Errorf("duplicate carries %s", dup.CommandID)
			}
			if !strings.HasPrefix(got.Error(), "eventstore") {
				t.Errorf("error %q has no package prefix", got)
			}
		})
	}
	if translateWriteError(nil, "x", nil, target) != nil {
		t.Error("nil error translated to an error")
	}
}

func TestBatcher_given_concurrent_calls_then_batches_and_each_gets_its_own_result(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	// Writes wait until every caller has submitted, so that calls overlap however slowly
	// the goroutines are scheduled (a loaded machine would otherwise run them one by one).
	gate := make(chan struct{})
	var submitted atomic.Int32
	b := newBatcher(20*time.Millisecond, 7, func(_ context.Context, calls []*putCall) {
		<-gate
		mu.Lock()
		sizes = append(sizes, len(calls))
		mu.Unlock()
		for _, c := range calls {
			if strings.HasSuffix(c.key, "3") {
				c.done <- errors.New("failed " + c.key)
			} else {
				c.done <- nil
			}
		}
	})
	const calls = 50
	errs := make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			submitted.Add(1)
			errs[i] = b.submit(t.Context(), &putCall{key: fmt.Sprint(i), done: make(chan error, 1)})
		})
	}
	for submitted.Load() < calls {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // the last ones from Add to the batcher's queue
	close(gate)
	wg.Wait()
	for i, err := range errs {
		wantFail := strings.HasSuffix(fmt.Sprint(i), "3")
		if (err != nil) != wantFail || (wantFail && err.Error() != fmt.Sprintf("failed %d", i)) {
			t.Errorf("call %d: got %v", i, err)
		}
	}
	total := 0
	for _, n := range sizes {
		if n > 7 {
			t.Errorf("a batch of %d calls, at most 7", n)
		}
		total += n
	}
	if total != calls || len(sizes) >= calls {
		t.Errorf("batches %v: %d calls in %d batches", sizes, total, len(sizes))
	}
}

func TestBatcher_given_caller_gives_up_then_it_returns_and_the_batch_still_completes(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	b := newBatcher(time.Millisecond, 25, func(ctx context.Context, calls []*putCall) {
		<-release
		if ctx.Err() != nil {
			t.Error("the batch context ended with its first caller")
		}
		for _, c := range calls {
			c.done <- nil // buffered: never blocks on a caller that left
		}
		close(finished)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- b.submit(ctx, &putCall{key: "k", done: make(chan error, 1)}) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	close(release)
	<-finished
}

// fakeDynamo answers PutItem with success and BatchWriteItem by leaving unprocessed the
// items that unprocessed picks, so that Put's retry can be tested without throttling.
func fakeDynamo(t *testing.T, unprocessed func(attempt int, body string) bool) (*dynamodb.Client, *atomic.Int64) {
	var batches atomic.Int64
	var mu sync.Mutex
	attempts := make(map[string]int) // body → attempts seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".BatchWriteItem") {
			_, _ = io.WriteString(w, `{}`)
			return
		}
		batches.Add(1)
		var in struct {
			RequestItems map[string][]struct {
				PutRequest struct{ Item map[string]map[string]string }
			}
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("fake: decode: %v", err)
		}
		out := map[string][]any{}
		for table, reqs := range in.RequestItems {
			if len(reqs) > 25 {
				t.Errorf("fake: a batch of %d items", len(reqs))
			}
			for _, req := range reqs {
				body := req.PutRequest.Item[attrBody]["S"]
				mu.Lock()
				attempts[body]++
				n := attempts[body]
				mu.Unlock()
				if unprocessed(n, body) {
					out[table] = append(out[table], map[string]any{"PutRequest": req.PutRequest})
				}
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"UnprocessedItems": out})
	}))
	t.Cleanup(srv.Close)
	client := dynamodb.New(dynamodb.Options{
		BaseEndpoint: aws.String(srv.URL),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	return client, &batches
}

func TestPut_given_unprocessed_items_then_retried_and_each_caller_gets_its_own_result(t *testing.T) {
	// Every item is left unprocessed on its first attempt; items marked "never" always are.
	client, batches := fakeDynamo(t, func(attempt int, body string) bool {
		return attempt == 1 || strings.Contains(body, "never")
	})
	st, err := New(Config{Client: client, EventsTable: "events", CommandsTable: "commands", PutBatchWindow: 5 * time.Millisecond, PutMaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	const calls = 60
	keys, errs := make([]string, calls), make([]error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			body := fmt.Sprintf(`{"i":%d}`, i)
			if i%10 == 0 {
				body = fmt.Sprintf(`{"i":%d,"never":true}`, i)
			}
			keys[i], errs[i] = st.Put(t.Context(), json.RawMessage(body))
		})
	}
	wg.Wait()
	seen := make(map[string]bool)
	for i := range calls {
		if i%10 == 0 {
			if !errors.Is(errs[i], errUnprocessed) || keys[i] != "" {
				t.Errorf("put %d: got %q, %v, want an unprocessed error", i, keys[i], errs[i])
			}
			continue
		}
		if errs[i] != nil || len(keys[i]) != eventstore.KeyLength || seen[keys[i]] {
			t.Errorf("put %d: got %q, %v", i, keys[i], errs[i])
		}
		seen[keys[i]] = true
	}
	if n := batches.Load(); n < 3 || n > 3*calls/2 {
		t.Errorf("%d BatchWriteItem calls for %d puts tried up to 3 times", n, calls)
	}
}
