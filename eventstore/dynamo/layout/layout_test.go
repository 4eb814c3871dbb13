package layout_test

import (
	"testing"

	"buildledger/eventstore/dynamo/layout"
)

func TestNumberSize(t *testing.T) {
	for n, want := range map[int64]int{0: 2, 1: 2, 9: 2, 10: 2, 12: 2, 123: 3, 1000: 2, 1234: 3, 12345: 4, -12: 2, 20130927: 5} {
		if got := layout.NumberSize(n); got != want {
			t.Errorf("NumberSize(%d) = %d, want %d", n, got, want)
		}
	}
}
