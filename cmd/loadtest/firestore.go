package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/internal/sessiongen"
	"github.com/telemed/videocalls/store"
)

// parallel calls do(0..n-1) from workers goroutines and returns the first
// error; a worker whose do returns errStop stops quietly.
func parallel(ctx context.Context, n, workers int, do func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(ctx, i); err == errStop {
					return
				} else if err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// seedRooms records each room for its appointment, as hmsToken does when
// it creates the room: calls/{appointmentId} and hmsRooms/{roomId}.
func seedRooms(ctx context.Context, s *store.Store, rooms []sessiongen.Room) error {
	return parallel(ctx, len(rooms), 16, func(ctx context.Context, i int) error {
		r := rooms[i]
		appt := store.Appointment{ID: r.AppointmentID, DoctorID: "uid-doctor-" + r.AppointmentID, ClientID: "uid-client-" + r.AppointmentID}
		_, err := s.RecordRoom(ctx, appt, store.Room{ID: r.ID, Name: r.Name, TemplateID: r.TemplateID}, nil)
		return err
	})
}

// applyInOrder applies each room's events once, in time order, through the
// store package: the reference the webhook's result must equal. Rooms are
// independent (one appointment each), so they run side by side.
func applyInOrder(ctx context.Context, s *store.Store, rooms []sessiongen.Room) error {
	return parallel(ctx, len(rooms), 16, func(ctx context.Context, i int) error {
		for _, e := range rooms[i].Events {
			ev, err := hms.ParseEvent(e.Body)
			if err != nil {
				return err
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err = s.ApplyEvent(cctx, ev, e.Body)
			cancel()
			if err != nil {
				return fmt.Errorf("reference: apply %s: %w", e.ID, err)
			}
		}
		return nil
	})
}

// floorResult is one floor measurement.
type floorResult struct {
	batches int
	elapsed time.Duration
}

func (f floorResult) rate() float64 {
	if f.elapsed <= 0 {
		return 0
	}
	return float64(f.batches) / f.elapsed.Seconds()
}

// measureFloor runs the emulator's bare cost of the webhook's write shape
// for d: writers concurrent atomic batches, each creating one document and
// merging into one of 50 shared documents with a Maximum transform (as
// store's BenchmarkFloor does).
func measureFloor(ctx context.Context, fs *firestore.Client, prefix string, writers int, d time.Duration) (floorResult, error) {
	var n atomic.Int64
	deadline := time.Now().Add(d)
	begin := time.Now()
	err := parallel(ctx, 1<<62, writers, func(ctx context.Context, i int) error {
		if time.Now().After(deadline) {
			return errStop
		}
		batch := fs.Batch() //nolint:staticcheck // the same atomic write the store uses
		batch.Create(fs.Collection("floorEvents").Doc(fmt.Sprint(prefix, i)), map[string]any{"n": i})
		batch.Set(fs.Collection("floorShared").Doc(fmt.Sprint(i%50)), map[string]any{
			"f": map[string]any{fmt.Sprint(i % 7): i}, "max": firestore.FieldTransformMaximum(i),
		}, firestore.MergeAll)
		if _, err := batch.Commit(ctx); err != nil {
			return err
		}
		n.Add(1)
		return nil
	})
	return floorResult{batches: int(n.Load()), elapsed: time.Since(begin)}, err
}

// errStop ends a parallel worker without an error.
var errStop = errors.New("stop")
