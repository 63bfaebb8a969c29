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
	// Remembered is true for a duplicate this instance answered from its
	// memory of stored ids, without asking Firestore.
	Remembered bool
	// ReconcileDue is true when this delivery applied a session's close
	// and the session awaits its reconciliation with 100ms's record
	// (ReconcileSession): the webhook asks 100ms once, now; hmsSweep asks
	// again later should that fail.
	ReconcileDue bool
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
// with no Firestore call (seen.go).
func (s *Store) ApplyEvent(ctx context.Context, ev *hms.Event, raw []byte) (ApplyResult, error) {
	if ev == nil {
		return ApplyResult{}, wrapf(errors.New("nil event"), "apply event")
	}
	if err := checkStorable(ev, raw); err != nil {
		return ApplyResult{}, wrapf(err, "apply event")
	}
	if appt, ok := s.seen.appointment(ev.ID); ok {
		return ApplyResult{AppointmentID: appt, Duplicate: true, Remembered: true}, nil
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
	reconcileDue := false
	if _, closing := ev.Data.(*hms.SessionClose); closing && first.read != nil {
		first.seen = func(stored map[string]any, _ []write) {
			reconcileDue = !sessionsOf(stored)[ev.SessionID].reconciled
		}
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
			return ApplyResult{AppointmentID: appt, ReconcileDue: reconcileDue}, nil
		case errors.Is(err, errDuplicate),
			status.Code(err) == codes.AlreadyExists && p.orElse == nil:
			s.remember(ev.ID, appt)
			return ApplyResult{AppointmentID: appt, Duplicate: true}, nil
		case IsPermanent(err):
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
