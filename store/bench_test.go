package store

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
)

const benchWriters = 32

// BenchmarkApplyEvent measures events/s through ApplyEvent: 32 concurrent
// writers, the events of 40 sessions (each its own appointment) interleaved
// in timestamp order, as they would arrive.
func BenchmarkApplyEvent(b *testing.B) {
	s := newStore(b, "demo-bench-apply")
	const sessions = 40
	type item struct {
		ev  *hms.Event
		raw []byte
	}
	var all []historyEvent
	rng := newRand()
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var items []item
	round := 0
	for len(items) < b.N {
		all = all[:0]
		for i := range sessions {
			room := fmt.Sprintf("room-b%d-%d", round, i)
			seed(b, s, fmt.Sprintf("appt-b%d-%d", round, i), room)
			// Every session starts within the same minute: maximal overlap.
			all = append(all, history(rng, fmt.Sprintf("b%d-%d", round, i), room, 1, start.Add(time.Duration(rng.IntN(60))*time.Second))...)
		}
		sortHistory(all)
		for _, e := range all {
			ev, err := hms.ParseEvent(e.raw)
			if err != nil {
				b.Fatal(err)
			}
			items = append(items, item{ev, e.raw})
		}
		round++
	}
	items = items[:b.N]
	var next atomic.Int64
	ctx := context.Background()
	b.ResetTimer()
	begin := time.Now()
	var wg sync.WaitGroup
	for range benchWriters {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(items)) {
					return
				}
				if _, err := s.ApplyEvent(ctx, items[i].ev, items[i].raw); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "events/s")
}

// BenchmarkFloor is the bare cost of the blind pattern: atomic batches that
// create one document and merge into one of 50 shared documents, with a
// Maximum transform, 32 writers.
func BenchmarkFloor(b *testing.B) {
	s := newStore(b, "demo-bench-floor")
	var next atomic.Int64
	ctx := context.Background()
	b.ResetTimer()
	begin := time.Now()
	var wg sync.WaitGroup
	for range benchWriters {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				batch := s.fs.Batch() //nolint:staticcheck // the same atomic write ApplyEvent uses
				batch.Create(s.fs.Collection("floorEvents").Doc(fmt.Sprint(i)), map[string]any{"n": i})
				batch.Set(s.fs.Collection("floorShared").Doc(fmt.Sprint(i%50)), map[string]any{
					"f": map[string]any{fmt.Sprint(i % 7): i}, "max": firestore.FieldTransformMaximum(i),
				}, firestore.MergeAll)
				if _, err := batch.Commit(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "events/s")
}
