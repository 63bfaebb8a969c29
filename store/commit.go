package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errDuplicate stops commitRead when the event document already exists.
var errDuplicate = errors.New("duplicate event")

// errTaken: a document id made for this request exists with other content.
var errTaken = errors.New("a document id made for this request is taken")

// commitBlind creates the event document and p.creates and makes p.merges
// in one atomic commit with no reads, so that it takes no locks before the
// commit. A commit the server aborted (it waited too long for a lock that
// a transaction, such as RecordRoom's, held) is retried.
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
// A nil ev applies the plan with no event document (hmsSweep's close,
// reconciliation, the recording control). It tries again until ctx ends:
// the caller's deadline bounds it.
//
// ev may be an audit entry, whose id is made for the request (fresh), so
// that nothing else can have written it and it is not read beforehand.
// If its create is refused as AlreadyExists all the same, an earlier
// attempt of this very commit landed (the client retried a commit whose
// answer was lost): the entry is read, and when it holds what this commit
// writes, the commit is done; else the id was taken, which no retry
// mends.
func (s *Store) commitRead(ctx context.Context, ev *write, p plan) error {
	unlock, err := s.lock(ctx, p.read.Path)
	if err != nil {
		return fmt.Errorf("wait for writes of %s: %w", p.read.ID, err)
	}
	defer unlock()
	refs := []*firestore.DocumentRef{p.read}
	evAt := -1
	if ev != nil && !ev.fresh() {
		evAt, refs = len(refs), append(refs, ev.ref)
	}
	pause := 10 * time.Millisecond
	for {
		snaps, err := s.fs.GetAll(ctx, refs)
		if err != nil {
			return err
		}
		if evAt >= 0 && snaps[evAt].Exists() {
			if ev.fresh() {
				if sameContent(snaps[evAt].Data(), ev.data) {
					// An earlier attempt of this commit landed: the book
					// as read holds what it wrote.
					if p.seen != nil {
						stored := dataOf(snaps[0])
						_, merges := p.step(stored)
						p.seen(stored, merges)
					}
					return nil
				}
				return fmt.Errorf("%s exists with other content: %w", ev.ref.Path, errTaken)
			}
			return errDuplicate
		}
		book, stored := snaps[0], dataOf(snaps[0])
		if p.unchanged != nil && p.unchanged(stored) {
			if p.seen != nil {
				p.seen(stored, nil)
			}
			return nil
		}
		fields, merges := p.step(stored)
		b := s.fs.Batch() //nolint:staticcheck // SA1019: see commitBlind.
		writes := 0
		if ev != nil {
			b.Create(ev.ref, ev.data)
			writes++
		}
		// A step that returns nil fields leaves its document as it is.
		writes += conditional(b, p.read, book, fields)
		for _, w := range combine(merges) {
			if len(w.data) > 0 {
				b.Set(w.ref, w.data, firestore.MergeAll)
				writes++
			}
		}
		if writes == 0 {
			return nil // nothing to change, and nothing to create
		}
		_, err = b.Commit(ctx)
		switch status.Code(err) {
		case codes.OK:
			if p.seen != nil {
				p.seen(stored, merges)
			}
			return nil
		case codes.AlreadyExists:
			if ev != nil && ev.fresh() && evAt < 0 {
				// Read the entry too from now on: it tells whether this
				// commit landed before (above).
				evAt, refs = len(refs), append(refs, ev.ref)
			}
		case codes.FailedPrecondition, codes.Aborted:
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

// sameContent reports whether stored (as read back) holds every field data
// writes, leaving out server timestamps, which only the server knows.
// Firestore keeps times to the microsecond and integers as int64.
func sameContent(stored, data map[string]any) bool {
	for k, v := range data {
		if v == firestore.ServerTimestamp {
			continue
		}
		if !sameValue(stored[k], v) {
			return false
		}
	}
	return true
}

func sameValue(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		return ok && len(g) == len(w) && sameContent(g, w)
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w.Truncate(time.Microsecond))
	}
	// Named types (an audit entry's outcome) are stored as their kind.
	g, v := reflect.ValueOf(got), reflect.ValueOf(want)
	switch v.Kind() {
	case reflect.String:
		return g.Kind() == reflect.String && g.String() == v.String()
	case reflect.Bool:
		return g.Kind() == reflect.Bool && g.Bool() == v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.Kind() == reflect.Int64 && g.Int() == v.Int()
	case reflect.Float32, reflect.Float64:
		return g.Kind() == reflect.Float64 && g.Float() == v.Float()
	case reflect.Slice:
		if g.Kind() != reflect.Slice || g.Len() != v.Len() {
			return false
		}
		for i := range v.Len() {
			if !sameValue(g.Index(i).Interface(), v.Index(i).Interface()) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

// conditional writes fields to a document read as snap, on condition that
// it did not change since: created when it did not exist, else updated
// with its update time as precondition. No fields, no write.
func conditional(b *firestore.WriteBatch, ref *firestore.DocumentRef, snap *firestore.DocumentSnapshot, fields map[string]any) int {
	switch {
	case len(fields) == 0:
		return 0
	case snap.Exists():
		b.Update(ref, leafUpdates(nil, fields), firestore.LastUpdateTime(snap.UpdateTime))
	default:
		b.Create(ref, withoutDeletes(fields))
	}
	return 1
}

// withoutDeletes is m without its firestore.Delete leaves, which a create
// refuses (there is nothing to delete in a new document).
func withoutDeletes(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			out[k] = withoutDeletes(x)
		default:
			if v != firestore.Delete {
				out[k] = v
			}
		}
	}
	return out
}

// combine joins merge-sets of one document into one (a commit writes each
// document once), deep-merging maps; of two leaves, the later wins.
func combine(ws []write) []write {
	var out []write
	at := map[string]int{}
	for _, w := range ws {
		i, ok := at[w.ref.Path]
		if !ok {
			at[w.ref.Path] = len(out)
			out = append(out, write{w.ref, deepCopy(w.data)})
			continue
		}
		deepMerge(out[i].data, w.data)
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	deepMerge(c, m)
	return c
}

func deepMerge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				deepMerge(dm, sm)
				continue
			}
			dst[k] = deepCopy(sm)
			continue
		}
		dst[k] = v
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
