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

	"github.com/telemed/videocalls/hms"
)

// ApplyResult says what ApplyEvent did.
type ApplyResult struct {
	// AppointmentID is the appointment the event's room belongs to, empty
	// when the room is unknown (the event is then stored raw only).
	AppointmentID string
	// Duplicate is true when the event had been applied before; nothing
	// changed this time.
	Duplicate bool
}

// ApplyEvent stores raw in hmsEvents/{ev.ID} and applies ev to calls/... in
// one atomic write guarded by the creation of hmsEvents/{ev.ID}, so that a
// redelivered event changes nothing. Events change the same documents
// whatever their order of arrival (the merge rules are next to each plan).
func (s *Store) ApplyEvent(ctx context.Context, ev *hms.Event, raw []byte) (ApplyResult, error) {
	if ev == nil {
		return ApplyResult{}, errors.New("store: apply event: nil event")
	}
	if !validID(ev.ID) {
		return ApplyResult{}, fmt.Errorf("store: apply event: id %q cannot name a document", ev.ID)
	}
	appt, err := s.appointmentForRoom(ctx, ev.RoomID)
	if err != nil {
		return ApplyResult{}, fmt.Errorf("apply event %s: %w", ev.ID, err)
	}
	evWrite := write{s.fs.Collection(colEvents).Doc(ev.ID), eventDoc(ev, raw, appt, time.Now())}
	for p := s.plan(ev, appt); ; p = *p.orElse {
		var err error
		if p.read != nil {
			err = s.commitRead(ctx, evWrite, p)
		} else {
			err = s.commitBlind(ctx, evWrite, p)
		}
		switch {
		case err == nil:
			return ApplyResult{AppointmentID: appt}, nil
		case errors.Is(err, errDuplicate),
			status.Code(err) == codes.AlreadyExists && p.orElse == nil:
			return ApplyResult{AppointmentID: appt, Duplicate: true}, nil
		case status.Code(err) != codes.AlreadyExists:
			return ApplyResult{}, wrapf(err, "apply event %s (%s)", ev.ID, ev.Type)
		}
		// The event document or one of p.creates existed: orElse tells
		// which (it creates the event document again) and applies the
		// event as that existing document requires.
	}
}

// plan is what one event does to Firestore, in one atomic commit that also
// creates the event document: either blind writes (creates and merges, no
// reads), or a read and a conditional commit when a field's rule needs a
// stored value.
type plan struct {
	// creates are documents that must not exist yet: each stands for a
	// condition under which merges are right (see peer.go, stream.go,
	// recording.go). When one exists, orElse is applied instead.
	creates []write
	// merges are merge-sets (MergeAll) whose field writes commute with
	// every other event's writes, given creates.
	merges []write
	orElse *plan
	// read, when set, makes the plan read instead: it reads this one
	// bookkeeping document, and step turns its fields (empty when it does
	// not exist) into its new fields and the merge-sets to make, committed
	// only if it did not change meanwhile (commitRead). step may run
	// several times, so it keeps no state.
	read *firestore.DocumentRef
	step func(stored map[string]any) (book map[string]any, merges []write)
}

// write is one merge-set, or for plan.creates one create, of a document.
type write struct {
	ref  *firestore.DocumentRef
	data map[string]any
}

// errDuplicate stops commitRead when the event document already exists.
var errDuplicate = errors.New("duplicate event")

// commitBlind creates the event document and p.creates and makes p.merges
// in one atomic commit with no reads, so that it takes no locks before the
// commit and never aborts on contention. A commit the server aborted (it
// waited too long for a lock that a transaction held) is retried.
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
			b.Set(w.ref, w.data, firestore.MergeAll)
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
func (s *Store) commitRead(ctx context.Context, ev write, p plan) error {
	unlock, err := s.lock(ctx, p.read.Path)
	if err != nil {
		return fmt.Errorf("wait for writes of %s: %w", p.read.ID, err)
	}
	defer unlock()
	pause := 10 * time.Millisecond
	for {
		snaps, err := s.fs.GetAll(ctx, []*firestore.DocumentRef{ev.ref, p.read})
		if err != nil {
			return err
		}
		if snaps[0].Exists() {
			return errDuplicate
		}
		book, merges := p.step(dataOf(snaps[1]))
		b := s.fs.Batch() //nolint:staticcheck // SA1019: see commitBlind.
		b.Create(ev.ref, ev.data)
		if snaps[1].Exists() {
			b.Update(p.read, leafUpdates(nil, book), firestore.LastUpdateTime(snaps[1].UpdateTime))
		} else {
			b.Create(p.read, book)
		}
		for _, w := range merges {
			b.Set(w.ref, w.data, firestore.MergeAll)
		}
		_, err = b.Commit(ctx)
		switch status.Code(err) {
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

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
