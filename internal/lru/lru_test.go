package lru_test

import (
	"testing"

	"buildledger/internal/lru"
)

func TestCache(t *testing.T) {
	higher := func(stored, put int) bool { return stored > put }
	tests := []struct {
		name string
		max  int
		keep func(stored, put int) bool
		// puts are key=value pairs put in order; takes are the keys taken after them, with
		// the values wanted (-1: none).
		puts  [][2]any
		takes [][2]any
	}{
		{
			name:  "given a value taken, then it is gone until put back",
			max:   10,
			puts:  [][2]any{{"a", 1}},
			takes: [][2]any{{"a", 1}, {"a", -1}},
		},
		{
			name:  "given two values of a key and a keep rule, then the one it keeps stays",
			max:   10,
			keep:  higher,
			puts:  [][2]any{{"a", 3}, {"a", 2}, {"b", 2}, {"b", 4}},
			takes: [][2]any{{"a", 3}, {"b", 4}},
		},
		{
			name:  "given no keep rule, then the last value put stays",
			max:   10,
			puts:  [][2]any{{"a", 3}, {"a", 2}},
			takes: [][2]any{{"a", 2}},
		},
		{
			name:  "given a full cache, then the least recently put leaves",
			max:   2,
			puts:  [][2]any{{"a", 1}, {"b", 1}, {"a", 2}, {"c", 1}},
			takes: [][2]any{{"b", -1}, {"a", 2}, {"c", 1}},
		},
		{
			name:  "given a bound below one, then nothing is kept",
			max:   0,
			puts:  [][2]any{{"a", 1}},
			takes: [][2]any{{"a", -1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := lru.New[string](tt.max, tt.keep)
			for _, p := range tt.puts {
				c.Put(p[0].(string), p[1].(int))
			}
			if want := min(len(tt.puts), tt.max); tt.max > 0 && c.Len() > want {
				t.Errorf("len = %d, want at most %d", c.Len(), want)
			}
			for _, tk := range tt.takes {
				v, ok := c.Take(tk[0].(string))
				want := tk[1].(int)
				if (want < 0) == ok || ok && v != want {
					t.Errorf("take %s = %d, %v; want %d", tk[0], v, ok, want)
				}
			}
		})
	}
}
