package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"
	"unicode/utf8"

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
	// Reconciled is true when this delivery applied a session's close and
	// 100ms's record of its peers was merged in the same commit
	// (ApplyEventWith); ReconcileError says why the session stays due for
	// hmsSweep instead (100ms down, a timeout): empty when there was
	// nothing to reconcile (not a close, or reconciled before).
	Reconciled     bool
	ReconcileError string
	// Enforce lists the peers of removed users whose joins this delivery
	// claimed (peer.go, fact k): the caller asks 100ms to remove each. A
	// duplicate, or a replay of a join claimed before, lists none.
	Enforce []RemovedPeer
	// Notify lists the notifications this delivery claimed (notify.go):
	// the caller sends each and records the outcome. A duplicate, or any
	// later event of the same session, lists none of them again.
	Notify []Notification
	// NotApplied, when set, says why the event was stored raw only
	// (applied: false): its changes can never be written, whatever the
	// number of deliveries (an id that cannot name a document or field, or
	// a write Firestore refuses as invalid or too large). The caller
	// answers 200, so that 100ms stops retrying, and logs it at ERROR.
	NotApplied string
}

// ApplyEvent stores raw in hmsEvents/{ev.ID} and applies ev to calls/... in
// one atomic write guarded by the creation of hmsEvents/{ev.ID}, so that a
// redelivered event changes nothing. Events change the same documents
// whatever their order of arrival (the merge rules are next to each plan).
// An event this Store stored or found stored before is a duplicate at once,
// with no Firestore call (seen.go). A close applied here leaves its session
// due for reconciliation (hmsSweep's); ApplyEventWith reconciles it at once.
func (s *Store) ApplyEvent(ctx context.Context, ev *hms.Event, raw []byte) (ApplyResult, error) {
	return s.ApplyEventWith(ctx, ev, raw, nil)
}

// SessionRecord returns 100ms's record of the peers of the session a
// close names (GET /sessions/{id}), or ErrUnknownSession when 100ms does
// not know that session in the event's room. Any other error leaves the
// session due for reconciliation.
type SessionRecord func(ctx context.Context) ([]PeerRecord, error)

// ErrUnknownSession: 100ms does not know the session (or it is another
// room's). Its reconciliation is then done, with nothing to add.
var ErrUnknownSession = errors.New("100ms does not know the session")

// ApplyEventWith is ApplyEvent that reconciles a session's close in the
// close's own commit (docs/webhook.md, "Reconciliation"): after reading
// the call's book, unless the session is reconciled already, it asks
// record once and merges what 100ms recorded with the close, so that the
// close costs a read and a commit whatever 100ms says. A failure of record
// commits the close alone, its session due. record is not asked for a
// duplicate, nor for any other event.
func (s *Store) ApplyEventWith(ctx context.Context, ev *hms.Event, raw []byte, record SessionRecord) (ApplyResult, error) {
	if ev == nil {
		return ApplyResult{}, wrapf(errors.New("nil event"), "apply event")
	}
	if err := checkStorable(ev, raw); err != nil {
		return ApplyResult{}, wrapf(err, "apply event")
	}
	if appt, ok := s.seen.appointment(ev.ID); ok {
		return ApplyResult{AppointmentID: appt, Duplicate: true}, nil
	}
	appt, err := s.appointmentForRoom(ctx, ev.RoomID)
	if errors.Is(err, errBadRoomRecord) {
		// Kept raw, never a 503 forever: the room record is what is wrong.
		return s.storeRawOnly(ctx, ev, write{s.eventRef(ev.ID), eventDoc(ev, raw, "", time.Now())}, "", err.Error())
	}
	if err != nil {
		return ApplyResult{}, wrapf(err, "apply event %s", ev.ID)
	}
	evWrite := write{s.eventRef(ev.ID), eventDoc(ev, raw, appt, time.Now())}
	first := s.plan(ev, appt)
	if first.refused != "" {
		return s.storeRawOnly(ctx, ev, evWrite, appt, first.refused)
	}
	// The recording hmsRecording controls moves on with its beam events,
	// first (recordingcontrol.go: idempotent, so a redelivery after a
	// failed commit below applies it again harmlessly).
	if err := s.advanceRecording(ctx, appt, ev); err != nil {
		return ApplyResult{}, wrapf(err, "apply event %s (%s)", ev.ID, ev.Type)
	}
	var rec closeReconciliation
	if _, closing := ev.Data.(*hms.SessionClose); closing && first.read != nil && record != nil {
		first.step = s.reconcilingClose(ctx, appt, ev.SessionID, first.step, record, &rec)
	}
	for p := first; ; p = *p.orElse {
		var err error
		if p.read != nil {
			err = s.commitRead(ctx, &evWrite, p)
		} else {
			err = s.commitBlind(ctx, evWrite, p)
		}
		switch {
		case err == nil:
			s.remember(ev.ID, appt)
			res := ApplyResult{AppointmentID: appt, Reconciled: rec.done, ReconcileError: rec.failed}
			if p.claims != nil {
				res.Enforce = *p.claims
			}
			if p.notify != nil {
				res.Notify = *p.notify
			}
			return res, nil
		case errors.Is(err, errDuplicate),
			status.Code(err) == codes.AlreadyExists && p.orElse == nil:
			s.remember(ev.ID, appt)
			return ApplyResult{AppointmentID: appt, Duplicate: true}, nil
		case refusedAsInvalid(err):
			return s.storeRawOnly(ctx, ev, evWrite, appt, "Firestore refused its changes: "+status.Convert(err).Message())
		case status.Code(err) != codes.AlreadyExists:
			return ApplyResult{}, wrapf(err, "apply event %s (%s)", ev.ID, ev.Type)
		}
		// The event document or one of p.creates existed: orElse tells
		// which (it creates the event document again) and applies the
		// event as that existing document requires.
	}
}

// storeRawOnly stores the event document alone, marked applied: false,
// for an event whose changes can never be written: answering 503 would
// have 100ms retry in vain and then drop the event, raw copy and all.
func (s *Store) storeRawOnly(ctx context.Context, ev *hms.Event, evWrite write, appt, why string) (ApplyResult, error) {
	doc := maps.Clone(evWrite.data)
	doc["applied"] = false
	_, err := evWrite.ref.Create(ctx, doc)
	switch {
	case status.Code(err) == codes.AlreadyExists:
		s.remember(ev.ID, appt)
		return ApplyResult{AppointmentID: appt, Duplicate: true}, nil
	case err != nil:
		return ApplyResult{}, wrapf(err, "store event %s (%s) raw only", ev.ID, ev.Type)
	}
	s.remember(ev.ID, appt)
	return ApplyResult{AppointmentID: appt, NotApplied: why}, nil
}

// refusedAsInvalid reports whether Firestore refused an event's changes
// as they are (InvalidArgument: also how it refuses a document over 1 MiB
// or with too many index entries): no delivery could apply them, so the
// event is kept raw. Other permanent failures (IsPermanent: a service
// account without permission) are the deployment's to fix, and the
// event's changes must still be applied once it is: 503, retried.
func refusedAsInvalid(err error) bool {
	return status.Code(err) == codes.InvalidArgument
}

// remember notes that event id is stored, unless its room had no known
// appointment: the room may be recorded a moment later, and a redelivery
// must then resolve it again (a redelivered close is reconciled).
func (s *Store) remember(id, appt string) {
	if appt != "" {
		s.seen.add(id, appt)
	}
}

// checkStorable refuses, before any write, an event Firestore would refuse
// on every delivery (all found by fuzzing the webhook): the raw body is
// stored as a string, which must be UTF-8; the id names a document; the
// timestamp is stored as a Firestore timestamp.
func checkStorable(ev *hms.Event, raw []byte) error {
	switch {
	case !utf8.Valid(raw):
		return fmt.Errorf("%w: body is not valid UTF-8", ErrUnstorableEvent)
	case !safeID(ev.ID):
		return fmt.Errorf("%w: id must be a Firestore document id of at most %d bytes", ErrUnstorableEvent, maxEventIDBytes)
	case ev.Timestamp.UTC().Year() < 1 || ev.Timestamp.UTC().Year() > 9999:
		return fmt.Errorf("%w: timestamp is outside years 1 to 9999", ErrUnstorableEvent)
	}
	return nil
}
