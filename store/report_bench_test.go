package store

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
)

// BenchmarkReport10000 reads 10,000 ended calls through EndedCalls, the
// report's query, and reports the time per report and the most heap held
// while it streamed (sampled every 500 rows): it must stay flat, not grow
// with the calls. Run it with
//
//	go test ./store -run '^$' -bench Report10000 -benchtime 3x
func BenchmarkReport10000(b *testing.B) {
	const calls = 10_000
	warmEmulator(b)
	s := newStore(b, "demo-bench-report")
	ctx := context.Background()
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	bw := s.fs.BulkWriter(ctx)
	for i := range calls {
		doc := map[string]any{"doctorId": fmt.Sprintf("doc-%d", i%40), "clientId": fmt.Sprintf("client-%d", i),
			"status": "ended", "sessionCount": int64(1), "startedAt": day.Add(time.Duration(i) * time.Second),
			"endedAt": day.Add(time.Duration(i)*time.Second + 20*time.Minute), "recorded": true,
			"visit": map[string]any{"doctorSec": int64(1200), "clientSec": int64(1100), "togetherSec": int64(1050), "waitSec": int64(90)}}
		if _, err := bw.Set(s.callRef(fmt.Sprintf("appt-%05d", i)), doc, firestore.MergeAll); err != nil {
			b.Fatal(err)
		}
	}
	bw.End()
	var peak atomic.Uint64
	b.ResetTimer()
	for range b.N {
		n := 0
		err := s.EndedCalls(ctx, ReportFilter{Since: day, Until: day.Add(24 * time.Hour)}, func(VisitRow) error {
			n++
			if n%500 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
			return nil
		})
		if err != nil || n != calls {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
	b.ReportMetric(float64(peak.Load())/(1<<20), "MiB-heap-peak")
}
