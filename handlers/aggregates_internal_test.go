package handlers

import (
	"testing"

	"buildledger/domain"
)

func lockAt(t *testing.T, env string, version int) domain.Aggregate {
	t.Helper()
	history := make([]domain.Event, version)
	for i := range history {
		if i%2 == 0 {
			history[i] = domain.Locked{Env: env, User: "alice"}
		} else {
			history[i] = domain.Released{Env: env, User: "alice"}
		}
	}
	agg, err := domain.Rehydrate("lock:"+env, history)
	if err != nil {
		t.Fatal(err)
	}
	return agg
}

func TestAggregateCache_GivenTaken_ThenGoneUntilPutBack(t *testing.T) {
	c := newAggregateCache(10)
	c.put(lockAt(t, "prod", 1))
	a := c.take("lock:prod")
	if a == nil || a.Version() != 1 {
		t.Fatalf("take = %v, want the aggregate at 1", a)
	}
	if b := c.take("lock:prod"); b != nil {
		t.Fatalf("second take = %v, want nil: a taken aggregate belongs to its taker", b)
	}
	c.put(a)
	if c.len() != 1 {
		t.Errorf("len = %d, want 1", c.len())
	}
}

func TestAggregateCache_GivenTwoVersionsPut_ThenTheHigherStays(t *testing.T) {
	c := newAggregateCache(10)
	c.put(lockAt(t, "prod", 3))
	c.put(lockAt(t, "prod", 2))
	if a := c.take("lock:prod"); a == nil || a.Version() != 3 {
		t.Fatalf("take = %v, want the aggregate at 3", a)
	}
	c.put(lockAt(t, "prod", 2))
	c.put(lockAt(t, "prod", 4))
	if a := c.take("lock:prod"); a == nil || a.Version() != 4 {
		t.Fatalf("take = %v, want the aggregate at 4", a)
	}
}

func TestAggregateCache_GivenFull_ThenLeastRecentlyPutLeaves(t *testing.T) {
	c := newAggregateCache(2)
	c.put(lockAt(t, "a", 1))
	c.put(lockAt(t, "b", 1))
	c.put(lockAt(t, "a", 2)) // a is now the most recent
	c.put(lockAt(t, "c", 1))
	if c.len() != 2 {
		t.Fatalf("len = %d, want 2", c.len())
	}
	if c.take("lock:b") != nil {
		t.Error("b should have left first")
	}
	if c.take("lock:a") == nil || c.take("lock:c") == nil {
		t.Error("a and c should stay")
	}
}

func TestAggregateCache_GivenSizeBelowOne_ThenNothingIsKept(t *testing.T) {
	for _, size := range []int{0, -1} {
		c := newAggregateCache(size)
		c.put(lockAt(t, "prod", 1))
		if a := c.take("lock:prod"); a != nil || c.len() != 0 {
			t.Errorf("size %d: take = %v, len %d; want nothing kept", size, a, c.len())
		}
	}
}
