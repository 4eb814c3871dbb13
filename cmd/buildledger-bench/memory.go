package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"
)

// memProbe follows the process's memory during one phase of a figure: the Go heap, sampled
// every few milliseconds, and the peak resident set size the kernel records (VmHWM), which
// it resets at the start when the kernel allows it (/proc/self/clear_refs).
type memProbe struct {
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	peakHeap uint64
	// rssReset says the kernel's peak was reset at the start, so that it is this phase's.
	rssReset bool
}

// heapMetric is the memory occupied by live and not yet swept heap objects.
const heapMetric = "/memory/classes/heap/objects:bytes"

// startMemProbe collects garbage, returns freed memory to the system, resets the peak RSS
// and starts sampling the heap.
func startMemProbe() *memProbe {
	runtime.GC()
	debug.FreeOSMemory()
	p := &memProbe{stop: make(chan struct{}), done: make(chan struct{})}
	p.rssReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	sample := []metrics.Sample{{Name: heapMetric}}
	read := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		v := sample[0].Value.Uint64()
		p.mu.Lock()
		p.peakHeap = max(p.peakHeap, v)
		p.mu.Unlock()
	}
	read()
	go func() {
		defer close(p.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return p
}

// memPeak is what a probe found.
type memPeak struct {
	// heap is the largest heap sample, in bytes.
	heap uint64
	// rss is the peak resident set size, in bytes (0 when unknown).
	rss uint64
	// rssOfPhase says rss is the phase's own peak, not the process's since it started.
	rssOfPhase bool
}

// stopProbe ends the sampling and returns the peaks.
func (p *memProbe) stopProbe() memPeak {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return memPeak{heap: p.peakHeap, rss: peakRSS(), rssOfPhase: p.rssReset}
}

// peakRSS reads VmHWM from /proc/self/status, in bytes; 0 when it cannot.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("VmHWM:")) {
			continue
		}
		f := bytes.Fields(line[len("VmHWM:"):])
		if len(f) == 0 {
			return 0
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0
		}
		return kb * 1024
	}
	return 0
}

// mib converts bytes to mebibytes.
func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// merge keeps the larger peaks of two phases of the same side.
func (m memPeak) merge(o memPeak) memPeak {
	if m == (memPeak{}) {
		return o
	}
	return memPeak{heap: max(m.heap, o.heap), rss: max(m.rss, o.rss), rssOfPhase: m.rssOfPhase && o.rssOfPhase}
}

// memoryFigure reports two memory peaks as a figure in MiB of peak RSS, with the Go heap
// peaks in Extra; without a per-phase RSS (the kernel refused the reset), it reports heap.
func memoryFigure(name string, ours, raw memPeak, goal float64, notes string) Figure {
	unit, o, r := "MiB RSS", mib(ours.rss), mib(raw.rss)
	if !ours.rssOfPhase || !raw.rssOfPhase || ours.rss == 0 || raw.rss == 0 {
		unit, o, r = "MiB heap", mib(ours.heap), mib(raw.heap)
		notes += "; Go heap peak (the process's peak RSS could not be reset per phase)"
	} else {
		notes += fmt.Sprintf("; Go heap peak %s vs %s MiB", formatValue(mib(ours.heap), ""), formatValue(mib(raw.heap), ""))
	}
	f := newFigure(name, unit, o, r, goal, true)
	f.Notes = notes
	f.Extra = map[string]float64{
		"ours_rss_mib":  mib(ours.rss),
		"raw_rss_mib":   mib(raw.rss),
		"ours_heap_mib": mib(ours.heap),
		"raw_heap_mib":  mib(raw.heap),
	}
	return f
}
