package logbuf

import (
	"fmt"
	"sync"
	"testing"
)

func TestBuffer_GivenConcurrentWriters_ThenEveryLineIsKeptAndTailCutsTheStart(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				fmt.Fprintf(&b, "w%d line %d\n", w, i)
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got == 0 {
		t.Fatal("nothing written")
	}
	tail := b.Tail(3)
	if want := "… 97 earlier lines\n"; tail[:len(want)] != want {
		t.Fatalf("Tail(3) = %q, want it to start with %q", tail, want)
	}
}
