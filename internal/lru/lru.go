// Package lru keeps the values of the keys used most recently, up to a bound, and hands them
// over one at a time: a value taken leaves the cache and belongs to its taker until it is
// put back, so values that are not safe for concurrent use can be cached.
package lru

import (
	"container/list"
	"sync"
)

// Cache holds at most a fixed number of values, dropping the least recently put. A nil
// *Cache holds nothing. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	keep  func(stored, put V) bool
	order *list.List // of *entry[K, V], most recently put first
	items map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// New returns a cache of at most max values; nil, which caches nothing, when max < 1. keep
// (nil: never) says whether a stored value stays when another one of its key is put: two
// takers of one key overlapped, and the newer value should win.
func New[K comparable, V any](max int, keep func(stored, put V) bool) *Cache[K, V] {
	if max < 1 {
		return nil
	}
	return &Cache[K, V]{max: max, keep: keep, order: list.New(), items: make(map[K]*list.Element)}
}

// Take removes the value of k from the cache and returns it.
func (c *Cache[K, V]) Take(k K) (v V, ok bool) {
	if c == nil {
		return v, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return v, false
	}
	c.order.Remove(e)
	delete(c.items, k)
	return e.Value.(*entry[K, V]).val, true
}

// Put keeps v as the value of k, which its caller must no longer use, unless the value
// stored under k is kept (see New).
func (c *Cache[K, V]) Put(k K, v V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		stored := e.Value.(*entry[K, V])
		if c.keep != nil && c.keep(stored.val, v) {
			return
		}
		stored.val = v
		c.order.MoveToFront(e)
		return
	}
	c.items[k] = c.order.PushFront(&entry[K, V]{key: k, val: v})
	for c.order.Len() > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*entry[K, V]).key)
	}
}

// Len returns how many values are cached.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
