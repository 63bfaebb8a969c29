package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errDuplicate stops commitRead when the event document already exists.
var errDuplicate = errors.New("duplicate event")

// commitBlind creates the event document and p.creates and makes p.merges
// in one atomic commit with no reads, so that it takes no locks before the
// commit. A commit the server aborted (it waited too long for a lock that
// a transaction, RecordRoom's or ReconcileSession's, held) is retried.
func (s *Store) commitBlind(ctx context.Context, ev write, p plan) error {
	return retryAborted(ctx, 20*time.Millisecond, func() error {
		// WriteBatch is deprecated in favour of transactions and
		// BulkWriter, but BulkWriter is not atomic and a transaction
		// costs extra round trips; a batch is exactly "one atomic
		// commit, no reads".
		b := s.fs.Batch() //nolint:staticcheck // SA1019: see above.
		b.Create(ev.ref, ev.data)
		for _, w := range p.creates {
			b.Create(w.ref, w.data)
		}
		for _, w := range p.merges {
			if len(w.data) > 0 { // a merge of nothing is refused
				b.Set(w.ref, w.data, firestore.MergeAll)
			}
		}
		_, err := b.Commit(ctx)
		return err
	})
}

// commitRead applies a plan that reads, optimistically: it reads the event
// document and p.read in one call (errDuplicate when the event exists),
// then commits the event document, p.read's new fields and p.step's merges
// in one batch that holds only if p.read is unchanged since it was read
// (created when it did not exist, else updated with its update time as
// precondition). When that fails, another event wrote p.read in between:
// read again. Two round trips, and no lock held on the server while this
// instance thinks; plans reading one document take turns here (lock.go).
// A nil ev applies the plan with no event document (hmsSweep's close);
// seen, when set, is told what the winning attempt read and wrote.
func (s *Store) commitRead(ctx context.Context, ev *write, p plan, seen func(stored map[string]any, merges []write)) error {
	unlock, err := s.lock(ctx, p.read.Path)
	if err != nil {
		return fmt.Errorf("wait for writes of %s: %w", p.read.ID, err)
	}
	defer unlock()
	refs := []*firestore.DocumentRef{p.read}
	if ev != nil {
		refs = append(refs, ev.ref)
	}
	pause := 10 * time.Millisecond
	for {
		snaps, err := s.fs.GetAll(ctx, refs)
		if err != nil {
			return err
		}
		if ev != nil && snaps[1].Exists() {
			return errDuplicate
		}
		book, stored := snaps[0], dataOf(snaps[0])
		fields, merges := p.step(stored)
		b := s.fs.Batch() //nolint:staticcheck // SA1019: see commitBlind.
		if ev != nil {
			b.Create(ev.ref, ev.data)
		}
		if book.Exists() {
			b.Update(p.read, leafUpdates(nil, fields), firestore.LastUpdateTime(book.UpdateTime))
		} else {
			b.Create(p.read, fields)
		}
		for _, w := range merges {
			if len(w.data) > 0 {
				b.Set(w.ref, w.data, firestore.MergeAll)
			}
		}
		_, err = b.Commit(ctx)
		switch status.Code(err) {
		case codes.OK:
			if seen != nil {
				seen(stored, merges)
			}
			return nil
		case codes.AlreadyExists, codes.FailedPrecondition, codes.Aborted:
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(rand.N(pause)):
		}
		pause = min(2*pause, time.Second)
	}
}

// leafUpdates turns a merge-set's data into the updates of its leaf fields,
// which is what a merge-set (MergeAll) writes.
func leafUpdates(prefix firestore.FieldPath, data map[string]any) []firestore.Update {
	var out []firestore.Update
	for k, v := range data {
		path := append(slices.Clip(prefix), k)
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			out = append(out, leafUpdates(path, m)...)
			continue
		}
		out = append(out, firestore.Update{FieldPath: path, Value: v})
	}
	return out
}

// retryAborted calls commit again, with jittered backoff from pause up to a
// second, while the server aborts it (lock timeouts under contention), and
// gives up when ctx ends.
func retryAborted(ctx context.Context, pause time.Duration, commit func() error) error {
	for {
		err := commit()
		if status.Code(err) != codes.Aborted {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(pause + rand.N(pause)):
		}
		pause = min(2*pause, time.Second)
	}
}
