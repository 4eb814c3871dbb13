package dynamo_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"buildledger/eventstore"
	"buildledger/projections"
	"buildledger/projections/projectionstest"
)

// BenchmarkReplay compares a full replay of N events (BUILDLEDGER_BENCH_EVENTS, default
// 10,000) with a raw parallel Scan of the same events table on the same emulator. Run it
// with -benchtime=1x: every iteration rebuilds every read table.
//
// replay reports events/s over the whole Replay call (table creation, scan, the
// GenerationCacheTTL wait before the catch-up pass, catch-up, drop of the old generation)
// and scan-events/s over its scan pass alone; scan reports events/s of reading alone.
func BenchmarkReplay(b *testing.B) {
	n := 10_000
	if v := os.Getenv("BUILDLEDGER_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BUILDLEDGER_BENCH_EVENTS=%q is not a positive number", v)
		}
	}
	ctx := context.Background()
	backend := newBackend(b, 0)
	if _, err := projections.Init(ctx, backend.Store); err != nil {
		b.Fatal(err)
	}
	setup := time.Now()
	appended, err := projectionstest.Workload(ctx, backend.Events, projectionstest.WorkloadConfig{Events: n, Writers: 32, Seed: 9})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("appended %d events in %s", appended, time.Since(setup).Round(time.Millisecond))
	const segments = 8

	b.Run("replay", func(b *testing.B) {
		var scanRate float64
		r, err := projections.NewReplayer(projections.ReplayerConfig{
			Store: backend.Store, Events: backend.Events, Scanner: backend.Scanner,
			Segments: segments, Workers: 16,
			Progress: func(_, _ int64, rate float64) { scanRate = rate },
		})
		if err != nil {
			b.Fatal(err)
		}
		var events int64
		var elapsed time.Duration
		for b.Loop() {
			res, err := r.Replay(ctx, projections.ReplayScope{})
			if err != nil {
				b.Fatal(err)
			}
			events += res.Events
			elapsed += res.Elapsed
		}
		b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
		b.ReportMetric(scanRate, "scan-events/s")
	})

	b.Run("scan", func(b *testing.B) {
		st := backend.Scanner
		var events atomic.Int64
		begin := time.Now()
		for b.Loop() {
			err := st.ScanSegments(ctx, segments, func(_ int, recs []eventstore.Record) error {
				events.Add(int64(len(recs)))
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(events.Load())/time.Since(begin).Seconds(), "events/s")
	})
}
