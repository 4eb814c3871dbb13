package eventstoretest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"buildledger/eventstore"
)

func testConcurrentPuts(t *testing.T, st eventstore.Store) {
	const puts = 200
	ctx := testContext(t)
	keys := make([]string, puts)
	var wg sync.WaitGroup
	for i := range puts {
		wg.Go(func() {
			key, err := st.Put(ctx, json.RawMessage(fmt.Sprintf(`{"my":"event","i":%d}`, i)))
			if err != nil {
				t.Errorf("put %d: %v", i, err)
			}
			keys[i] = key
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	byKey := make(map[string]int, puts)
	for i, k := range keys {
		if !keyFormat.MatchString(k) {
			t.Errorf("put %d: key %q is not in the seed format", i, k)
		}
		if j, ok := byKey[k]; ok {
			t.Errorf("puts %d and %d got the same key %s", j, i, k)
		}
		byKey[k] = i
	}
	all := ReadAll(t, st, "", 64)
	if len(all) != puts {
		t.Fatalf("read all found %d events, want %d", len(all), puts)
	}
	for _, r := range all {
		i, ok := byKey[r.Key]
		if !ok {
			t.Errorf("read all returned unknown key %s", r.Key)
			continue
		}
		if want := fmt.Sprintf(`{"my":"event","i":%d}`, i); string(r.Body) != want {
			t.Errorf("key %s has body %s, want %s", r.Key, r.Body, want)
		}
		if r.Type != eventstore.PutEventType || r.Stream != eventstore.PutStreamPrefix+r.Key || r.Version != 1 {
			t.Errorf("put event %s is %s@%d of type %s", r.Key, r.Stream, r.Version, r.Type)
		}
		delete(byKey, r.Key)
	}
	if len(byKey) != 0 {
		t.Errorf("%d put events are missing from read all", len(byKey))
	}
}
