package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/telemed/videocalls/hms"
)

// eventTTL is how long hmsEvents documents live (expireAt, for a Firestore
// TTL policy).
const eventTTL = 90 * 24 * time.Hour

// txAttempts bounds transaction retries; the caller's deadline bounds them too.
const txAttempts = 10

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
// whatever their order of arrival (see rules.go).
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
	res := ApplyResult{AppointmentID: appt}
	evRef := s.fs.Collection(colEvents).Doc(ev.ID)
	evDoc := eventDoc(ev, raw, appt, time.Now())
	p := s.plan(ev, appt)

	if p.tx == nil {
		err := s.commitBlindRetry(ctx, evRef, evDoc, p)
		switch {
		case err == nil:
			return res, nil
		case status.Code(err) != codes.AlreadyExists:
			return ApplyResult{}, wrapf(err, "apply event %s (%s)", ev.ID, ev.Type)
		case p.onGuard == nil:
			res.Duplicate = true
			return res, nil
		}
		// Either the event or the guard existed; the transaction tells
		// which and, for the guard, applies the event the careful way.
		p.tx = p.onGuard
	}
	// Transactions of one call run one at a time in this instance: they
	// are rare, and two of them locking the same documents wait on each
	// other until the server aborts one (seconds, on the emulator).
	unlock, err := s.lockCall(ctx, appt)
	if err != nil {
		return ApplyResult{}, wrapf(err, "apply event %s (%s): wait for this call's transactions", ev.ID, ev.Type)
	}
	dup, err := s.commitTxRetry(ctx, evRef, evDoc, p.tx)
	unlock()
	if err != nil {
		return ApplyResult{}, wrapf(err, "apply event %s (%s)", ev.ID, ev.Type)
	}
	res.Duplicate = dup
	return res, nil
}

// plan is what one event does to Firestore: either blind writes (merges,
// plus an optional guard document to create), or a read-then-write step
// run in a transaction.
type plan struct {
	// merges are merge-sets (MergeAll) whose field writes are idempotent
	// and commute with every other event's writes.
	merges []write
	// guard is created in the same commit as merges; when it already
	// exists the commit fails and onGuard runs instead.
	guard   *write
	onGuard txStep
	// tx reads and then returns the writes to make; used when a field's
	// rule needs the stored value (status ranks, latest-wins roles, counts).
	tx txStep
}

// write is one merge-set (or, for a guard, one create) of a document.
type write struct {
	ref  *firestore.DocumentRef
	data map[string]any
}

// txStep reads what it needs through tx and returns the writes to make. It
// may run several times (transaction retries), so it must not keep state.
type txStep func(ctx context.Context, tx *firestore.Transaction) ([]write, error)

// errDuplicate aborts a transaction whose event document already exists.
var errDuplicate = errors.New("duplicate event")

// commitBlind writes the event document, the guard and the merges in one
// atomic commit with no reads, so that it takes no locks and never aborts
// on contention.
func (s *Store) commitBlind(ctx context.Context, evRef *firestore.DocumentRef, evDoc map[string]any, p plan) error {
	// WriteBatch is deprecated in favour of transactions and BulkWriter,
	// but BulkWriter is not atomic and a transaction costs an extra round
	// trip; a batch is exactly "one atomic commit, no reads".
	b := s.fs.Batch() //nolint:staticcheck // SA1019: see above.
	b.Create(evRef, evDoc)
	if p.guard != nil {
		b.Create(p.guard.ref, p.guard.data)
	}
	for _, w := range p.merges {
		b.Set(w.ref, w.data, firestore.MergeAll)
	}
	_, err := b.Commit(ctx)
	return err
}

// commitBlindRetry retries a blind commit that the server aborted (it waited
// too long for a lock a transaction held), with backoff, within ctx.
func (s *Store) commitBlindRetry(ctx context.Context, evRef *firestore.DocumentRef, evDoc map[string]any, p plan) error {
	pause := 20 * time.Millisecond
	for {
		err := s.commitBlind(ctx, evRef, evDoc, p)
		if status.Code(err) != codes.Aborted {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(pause + time.Duration(rand.Int64N(int64(pause)))):
		}
		pause = min(2*pause, time.Second)
	}
}

// commitTxRetry runs commitTx again while the server keeps aborting it
// (lock timeouts under contention), within ctx.
func (s *Store) commitTxRetry(ctx context.Context, evRef *firestore.DocumentRef, evDoc map[string]any, step txStep) (bool, error) {
	pause := 50 * time.Millisecond
	for {
		dup, err := s.commitTx(ctx, evRef, evDoc, step)
		if status.Code(err) != codes.Aborted {
			return dup, err
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("%w (after: %v)", ctx.Err(), err)
		case <-time.After(pause + time.Duration(rand.Int64N(int64(pause)))):
		}
		pause = min(2*pause, time.Second)
	}
}

// lockCall serialises this instance's transactions on one call, giving up
// when ctx ends (a hung Firestore must not hold other requests past their
// deadline).
func (s *Store) lockCall(ctx context.Context, appt string) (func(), error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(appt))
	sem := s.txLocks[h.Sum32()%uint32(len(s.txLocks))]
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// commitTx applies step in a transaction that first checks the event
// document; it reports whether the event was a duplicate.
func (s *Store) commitTx(ctx context.Context, evRef *firestore.DocumentRef, evDoc map[string]any, step txStep) (bool, error) {
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(evRef)
		if err == nil && snap.Exists() {
			return errDuplicate
		}
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		writes, err := step(ctx, tx)
		if err != nil {
			return err
		}
		if err := tx.Create(evRef, evDoc); err != nil {
			return err
		}
		for _, w := range writes {
			if err := tx.Set(w.ref, w.data, firestore.MergeAll); err != nil {
				return err
			}
		}
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if errors.Is(err, errDuplicate) {
		return true, nil
	}
	return false, err
}

// eventDoc is hmsEvents/{id}: created once, never changed.
func eventDoc(ev *hms.Event, raw []byte, appt string, now time.Time) map[string]any {
	d := map[string]any{
		"raw":        string(raw),
		"type":       string(ev.Type),
		"timestamp":  ev.Timestamp,
		"receivedAt": firestore.ServerTimestamp,
		// Local clock: a TTL a few seconds off matters to no one.
		"expireAt": now.Add(eventTTL),
	}
	setStr(d, "roomId", ev.RoomID)
	setStr(d, "sessionId", ev.SessionID)
	setStr(d, "appointmentId", appt)
	return d
}

// setStr sets a string field only when known: SPEC §2 wants unknown fields
// absent, not empty.
func setStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// setTime sets a timestamp field only when known.
func setTime(m map[string]any, k string, t time.Time) {
	if !t.IsZero() {
		m[k] = t
	}
}

// setInt sets an integer field only when known.
func setInt(m map[string]any, k string, v *int64) {
	if v != nil {
		m[k] = *v
	}
}

func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }
