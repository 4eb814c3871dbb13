package webhooks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"buildledger/internal/webhooks"
	"buildledger/internal/webhooks/webhookstest"
)

// newDynamoStore returns a store on a fresh subscriptions table of DynamoDB Local.
func newDynamoStore(t *testing.T) webhooks.Store {
	t.Helper()
	client, prefix := webhookstest.Table(t, "webhooks")
	s, err := webhooks.NewDynamoStore(webhooks.DynamoConfig{Client: client, Table: webhooks.TableName(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stores are the backends every store test runs on.
var stores = []struct {
	name string
	new  func(*testing.T) webhooks.Store
}{
	{"memory", func(*testing.T) webhooks.Store { return webhooks.NewMemoryStore() }},
	{"dynamodb", newDynamoStore},
}

// onEveryStore runs test in a parallel subtest on a new store of each backend.
func onEveryStore(t *testing.T, test func(t *testing.T, st webhooks.Store)) {
	for _, b := range stores {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b.new(t))
		})
	}
}

func sub(name, url string) webhooks.Subscription {
	return webhooks.Subscription{Name: name, URL: url, Secret: "s3cret", Kinds: []string{"lock"}, Streams: "lock:*", CreatedAt: time.Now()}
}

// add stores s in st, failing the test when it cannot.
func add(t *testing.T, st webhooks.Store, s webhooks.Subscription) {
	t.Helper()
	if err := st.Add(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func TestStore_GivenASubscription_WhenAddedTwiceAndRead_ThenExistsAndTheFieldsRoundTrip(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st webhooks.Store) {
		ctx := context.Background()
		add(t, st, sub("a", "http://127.0.0.1:1/hook"))
		if err := st.Add(ctx, sub("a", "http://127.0.0.1:1/hook")); !errors.Is(err, webhooks.ErrExists) {
			t.Fatalf("second Add: %v, want ErrExists", err)
		}
		got, err := st.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if got.URL != "http://127.0.0.1:1/hook" || got.Secret != "s3cret" || got.State != webhooks.StateActive || got.Streams != "lock:*" || len(got.Kinds) != 1 || got.Kinds[0] != "lock" {
			t.Errorf("Get = %+v", got)
		}
		if _, err := st.Get(ctx, "nope"); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("Get of a missing name: %v, want ErrNotFound", err)
		}
		if err := st.Add(ctx, webhooks.Subscription{Name: "bad name", URL: "ftp://x"}); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("Add of an invalid subscription: %v, want ErrInvalid", err)
		}
		if err := st.Remove(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if all, err := st.List(ctx); err != nil || len(all) != 0 {
			t.Errorf("List after Remove = %v, %v", all, err)
		}
	})
}

func TestStore_GivenALeaseHeld_WhenAnotherOwnerAsks_ThenRefusedUntilItEnds(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st webhooks.Store) {
		ctx := context.Background()
		add(t, st, sub("a", "http://127.0.0.1:1/"))
		now := time.Now()
		if err := st.Lease(ctx, "a", "w1", 0, now, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.Lease(ctx, "a", "w2", 0, now, now.Add(time.Minute)); !errors.Is(err, webhooks.ErrLeaseLost) {
			t.Fatalf("w2 leased a held subscription: %v", err)
		}
		if err := st.Checkpoint(ctx, "a", "w2", 0, ""); !errors.Is(err, webhooks.ErrLeaseLost) {
			t.Fatalf("w2 wrote the checkpoint without the lease: %v", err)
		}
		if err := st.Lease(ctx, "a", "w2", 0, now.Add(2*time.Minute), now.Add(3*time.Minute)); err != nil {
			t.Fatalf("w2 could not take an ended lease: %v", err)
		}
		if err := st.Checkpoint(ctx, "a", "w1", 0, ""); !errors.Is(err, webhooks.ErrLeaseLost) {
			t.Fatalf("w1 wrote the checkpoint after losing the lease: %v", err)
		}
	})
}

func TestStore_GivenALeasedSubscription_WhenParkedThenReplayedThenResumed_ThenTheLoopMustReadAgainAndStartsFromTheCheckpoint(t *testing.T) {
	onEveryStore(t, func(t *testing.T, st webhooks.Store) {
		ctx := context.Background()
		add(t, st, sub("a", "http://127.0.0.1:1/"))
		now := time.Now()
		key := "20261207T101010123000000000"
		if err := st.Lease(ctx, "a", "w1", 0, now, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.Fail(ctx, "a", "w1", 0, 1, "boom"); err != nil {
			t.Fatal(err)
		}
		if err := st.Park(ctx, "a", "w1", 0, key, 2, "boom again"); err != nil {
			t.Fatal(err)
		}
		got, _ := st.Get(ctx, "a")
		if got.State != webhooks.StateParked || got.ParkedKey != key || got.Failures != 2 || got.LastError != "boom again" || got.LeaseOwner != "" {
			t.Fatalf("after Park: %+v", got)
		}
		if err := st.Lease(ctx, "a", "w1", 0, now, now.Add(time.Minute)); !errors.Is(err, webhooks.ErrLeaseLost) {
			t.Fatalf("a parked subscription was leased: %v", err)
		}
		cp, err := webhooks.CheckpointBefore(key)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Replay(ctx, "a", cp); err != nil {
			t.Fatal(err)
		}
		if err := st.Resume(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Get(ctx, "a")
		if got.State != webhooks.StateActive || got.ParkedKey != "" || got.Failures != 0 || got.Checkpoint != cp || got.Generation != 2 {
			t.Fatalf("after Replay and Resume: %+v", got)
		}
		if cp >= key {
			t.Errorf("checkpoint %s does not come before %s", cp, key)
		}
		if err := st.Lease(ctx, "a", "w1", 0, now, now.Add(time.Minute)); !errors.Is(err, webhooks.ErrLeaseLost) {
			t.Fatalf("a lease at the old generation was granted: %v", err)
		}
		if err := st.Lease(ctx, "a", "w1", got.Generation, now, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.Pause(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := st.Checkpoint(ctx, "a", "w1", got.Generation, cp); !errors.Is(err, webhooks.ErrLeaseLost) {
			t.Fatalf("a checkpoint was written after Pause: %v", err)
		}
		if err := st.Pause(ctx, "nope"); !errors.Is(err, webhooks.ErrNotFound) {
			t.Errorf("Pause of a missing name: %v", err)
		}
	})
}

func TestVerify_GivenASignedBody_WhenTheBodyOrSecretChanges_ThenItFails(t *testing.T) {
	body, now := []byte(`{"a":1}`), time.Now()
	ts := "1700000000"
	sig := webhooks.Sign("k", ts, body)
	if err := webhooks.Verify("k", ts, sig, body, now, 0); err != nil {
		t.Fatal(err)
	}
	if err := webhooks.Verify("other", ts, sig, body, now, 0); !errors.Is(err, webhooks.ErrBadSignature) {
		t.Errorf("another secret verified: %v", err)
	}
	if err := webhooks.Verify("k", ts, sig, []byte(`{"a":2}`), now, 0); !errors.Is(err, webhooks.ErrBadSignature) {
		t.Errorf("another body verified: %v", err)
	}
	if err := webhooks.Verify("k", ts, sig, body, now, time.Minute); !errors.Is(err, webhooks.ErrBadSignature) {
		t.Errorf("an old timestamp verified: %v", err)
	}
}

func TestStore_GivenABadNameOrCheckpoint_WhenReplayed_ThenInvalidAsValidateWordsIt(t *testing.T) {
	tests := []struct{ name, sub, checkpoint string }{
		{"given a checkpoint that is no cursor, when replayed, then invalid", "a", "yesterday"},
		{"given a name no subscription may have, when replayed, then invalid", "bad name", ""},
		{"given both, when replayed, then both problems", "bad name", "yesterday"},
	}
	onEveryStore(t, func(t *testing.T, st webhooks.Store) {
		add(t, st, sub("a", "http://127.0.0.1:1/"))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := st.Replay(context.Background(), tt.sub, tt.checkpoint)
				want := webhooks.Subscription{Name: tt.sub, URL: "http://x", Secret: "x", Checkpoint: tt.checkpoint}.Validate()
				if !errors.Is(err, webhooks.ErrInvalid) || err.Error() != want.Error() {
					t.Errorf("Replay: %v; want %v", err, want)
				}
			})
		}
	})
}
