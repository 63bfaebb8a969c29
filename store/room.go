package store

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Room is a 100ms room as recorded for an appointment.
type Room struct {
	ID, Name, TemplateID string
}

// The room of an appointment is recorded twice, in one atomic write:
// calls/{appointmentId}.roomId, which the app reads, and
// hmsRooms/{roomId}.appointmentId, which maps webhook events back. hmsToken
// runs two plain steps around its call to 100ms: RecordedRoom (is there
// one?) and, when there is none, RecordRoom (record the one 100ms made, or
// take the one a racing caller recorded first).

// RecordedRoom returns the room recorded for appt, read with it
// (appt.Room), once hmsRooms/{roomId} is known to name the same
// appointment: a roomId in calls/{id} that hmsRooms does not confirm
// (written by anyone but RecordRoom) is never used, it is ErrConflict. The
// check is made once per room and instance and remembered, as a recorded
// room never changes. ok is false when no room is recorded yet.
func (s *Store) RecordedRoom(ctx context.Context, appt Appointment) (room Room, ok bool, err error) {
	if appt.Room.ID == "" {
		return Room{}, false, nil
	}
	owner, err := s.appointmentForRoom(ctx, appt.Room.ID)
	if err != nil {
		return Room{}, false, wrapf(err, "check room of appointment %s", appt.ID)
	}
	if owner != appt.ID {
		return Room{}, false, wrapf(ErrConflict, "room %s in calls/%s is recorded in hmsRooms for %q", appt.Room.ID, appt.ID, owner)
	}
	return appt.Room, true, nil
}

// RecordRoom records created as appt's room in calls/{appt.ID} and
// hmsRooms/{created.ID} in one atomic write, unless a room is recorded
// already: then it returns that one, so that racing callers all get the
// first room recorded. A room recorded for another appointment is never
// taken over (ErrConflict): its events would change this appointment's call.
// audit, when set, is created in the same atomic write, naming the room
// that stands: the token's grant is recorded exactly when its room is.
func (s *Store) RecordRoom(ctx context.Context, appt Appointment, created Room, audit *Audit) (Room, error) {
	if !validID(appt.ID) {
		return Room{}, wrapf(ErrNotFound, "record room for appointment %q", appt.ID)
	}
	if !validID(created.ID) {
		return Room{}, wrapf(fmt.Errorf("unusable room id %q", created.ID), "record room for appointment %s", appt.ID)
	}
	rec := roomRecord{appt: appt, room: created, audit: audit}
	switch done, err := s.recordFirst(ctx, rec); {
	case err != nil:
		return Room{}, err
	case done:
		s.rooms.Store(created.ID, appt.ID)
		return created, nil
	}
	got, err := s.recordAfterRace(ctx, rec)
	if err != nil {
		return Room{}, err
	}
	if got == created {
		s.rooms.Store(created.ID, appt.ID)
	}
	return got, nil
}

// roomRecord is what RecordRoom writes: the call document, the room's
// hmsRooms document, the call's bookkeeping participants, and the audit
// entry when there is one.
type roomRecord struct {
	appt  Appointment
	room  Room
	audit *Audit
}

func (r roomRecord) callDoc(withStatus bool) map[string]any {
	call := map[string]any{
		"appointmentId": r.appt.ID,
		"doctorId":      r.appt.DoctorID,
		"clientId":      r.appt.ClientID,
		"roomId":        r.room.ID,
		"roomName":      r.room.Name,
		"templateId":    r.room.TemplateID,
		"createdAt":     firestore.ServerTimestamp,
		"updatedAt":     firestore.ServerTimestamp,
	}
	if withStatus {
		call["status"] = statusIdle
		call["sessionCount"] = 0
	}
	dropEmpty(call, "roomName", "templateId")
	return call
}

func (r roomRecord) roomDoc() map[string]any {
	doc := map[string]any{"appointmentId": r.appt.ID, "roomName": r.room.Name, "createdAt": firestore.ServerTimestamp}
	dropEmpty(doc, "roomName")
	return doc
}

// recordFirst is the usual case, no room recorded yet: one commit that
// creates the documents and fails if the call's or the room's exists (a
// racing caller recorded first): done is false then. A transaction would
// cost two more round trips and locks.
func (s *Store) recordFirst(ctx context.Context, r roomRecord) (done bool, err error) {
	b := s.fs.Batch() //nolint:staticcheck // SA1019: one atomic commit, no reads (see commitBlind).
	b.Create(s.callRef(r.appt.ID), r.callDoc(true))
	b.Create(s.roomRef(r.room.ID), r.roomDoc())
	b.Set(s.callBookRef(r.appt.ID), participantsBook(r.appt), firestore.MergeAll)
	if r.audit != nil {
		r.audit.RoomID = r.room.ID
		w := s.auditWrite(r.audit)
		b.Create(w.ref, w.data)
	}
	switch _, err := b.Commit(ctx); status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.AlreadyExists, codes.Aborted:
		// Aborted: the commit waited too long on a racing caller's
		// transaction lock; recordAfterRace settles it either way.
		return false, nil
	default:
		return false, wrapf(err, "record room %s for appointment %s", r.room.ID, r.appt.ID)
	}
}

// recordAfterRace is the case where someone was first: a transaction
// reads what is recorded and records this room only if there is still
// none; else it returns the one recorded. Racing callers in this instance
// take turns: on the same document, concurrent transactions wait on each
// other's locks until the server aborts one, which costs seconds on the
// emulator.
func (s *Store) recordAfterRace(ctx context.Context, r roomRecord) (Room, error) {
	unlock, err := s.lock(ctx, colCalls+"/"+r.appt.ID)
	if err != nil {
		return Room{}, wrapf(err, "record room for appointment %s", r.appt.ID)
	}
	defer unlock()
	callRef, roomRef := s.callRef(r.appt.ID), s.roomRef(r.room.ID)
	var got Room
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.GetAll([]*firestore.DocumentRef{callRef, roomRef})
		if err != nil {
			return err
		}
		if recorded, ok := roomOf(snaps[0]); ok {
			got = recorded // another caller recorded first; never overwrite it
			return s.createAuditIn(tx, r.audit, recorded)
		}
		if snaps[1].Exists() {
			if owner, _ := snaps[1].Data()["appointmentId"].(string); owner != r.appt.ID {
				return fmt.Errorf("%w: 100ms room %s is recorded for appointment %q", ErrConflict, r.room.ID, owner)
			}
		}
		got = r.room
		// The call document may hold state without a room (an admission
		// or a consent given before anyone joined), so merge.
		withStatus := !snaps[0].Exists() || snaps[0].Data()["status"] == nil
		if err := tx.Set(callRef, r.callDoc(withStatus), firestore.MergeAll); err != nil {
			return err
		}
		if err := tx.Set(roomRef, r.roomDoc()); err != nil {
			return err
		}
		if err := tx.Set(s.callBookRef(r.appt.ID), participantsBook(r.appt), firestore.MergeAll); err != nil {
			return err
		}
		return s.createAuditIn(tx, r.audit, r.room)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return Room{}, wrapf(err, "record room %s for appointment %s", r.room.ID, r.appt.ID)
	}
	return got, nil
}

// participantsBook is what the call's bookkeeping document keeps of the
// appointment: whose time the visit sums (presence.go), and who is told
// the doctor is ready (notify.go).
func participantsBook(appt Appointment) map[string]any {
	guests := appt.GuestIDs
	if guests == nil {
		guests = []string{}
	}
	return map[string]any{"doctorId": appt.DoctorID, "clientId": appt.ClientID, "guestIds": guests}
}

// RecordParticipants copies the appointment's participants to the call's
// book, and its doctorId and clientId to calls/{id} when they differ
// there (the queue's query and rule go by calls.doctorId), with audit
// (when set) in the same commit: one commit, no reads. hmsToken calls it
// for the doctor's tokens, which come before the doctor's join, so that
// the guests told the doctor is ready are the appointment's of now.
func (s *Store) RecordParticipants(ctx context.Context, appt Appointment, audit *Audit) error {
	if !validID(appt.ID) {
		return wrapf(ErrNotFound, "record participants of %q", appt.ID)
	}
	b := s.fs.Batch() //nolint:staticcheck // SA1019: one atomic commit, no reads (see commitBlind).
	b.Set(s.callBookRef(appt.ID), participantsBook(appt), firestore.MergeAll)
	if appt.Call.DoctorID != appt.DoctorID || appt.Call.ClientID != appt.ClientID {
		b.Set(s.callRef(appt.ID), map[string]any{"doctorId": appt.DoctorID, "clientId": appt.ClientID}, firestore.MergeAll)
	}
	if w := s.auditWrite(audit); w != nil {
		b.Create(w.ref, w.data)
	}
	_, err := b.Commit(ctx)
	return wrapf(err, "record participants of %s", appt.ID)
}

// createAuditIn adds audit, naming room, to a transaction's writes.
func (s *Store) createAuditIn(tx *firestore.Transaction, audit *Audit, room Room) error {
	if audit == nil {
		return nil
	}
	audit.RoomID = room.ID
	w := s.auditWrite(audit)
	return tx.Create(w.ref, w.data)
}

// ClearRoomLock records that the room hmsEndCall locked (calls/{id}
// endedBy.lock) was re-enabled, so that the next tokens need nothing.
func (s *Store) ClearRoomLock(ctx context.Context, appointmentID string) error {
	_, err := s.callRef(appointmentID).Update(ctx, []firestore.Update{
		{Path: "endedBy.lock", Value: false},
		{Path: "updatedAt", Value: firestore.ServerTimestamp},
	})
	return wrapf(err, "clear lock of call %s", appointmentID)
}

// roomOf reads the room recorded in a call document, if any.
func roomOf(snap *firestore.DocumentSnapshot) (Room, bool) {
	if snap == nil || !snap.Exists() {
		return Room{}, false
	}
	d := snap.Data()
	id, _ := d["roomId"].(string)
	if id == "" {
		return Room{}, false
	}
	name, _ := d["roomName"].(string)
	tmpl, _ := d["templateId"].(string)
	return Room{ID: id, Name: name, TemplateID: tmpl}, true
}

// errBadRoomRecord means hmsRooms holds a document for a room that names no
// usable appointment (written by hand, or damaged): no delivery of an event
// of that room can be applied until someone mends it.
var errBadRoomRecord = errors.New("room record names no appointment")

// appointmentForRoom resolves a 100ms room id to its appointment through
// hmsRooms, or returns "" for a room these functions did not create.
// Found mappings are remembered: a recorded room never changes owner.
func (s *Store) appointmentForRoom(ctx context.Context, roomID string) (string, error) {
	if !validID(roomID) {
		return "", nil
	}
	if v, ok := s.rooms.Load(roomID); ok {
		return v.(string), nil
	}
	snap, err := s.roomRef(roomID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		// Not remembered: the room may be recorded a moment from now.
		return "", nil
	}
	if err != nil {
		return "", wrapf(err, "resolve room %s", roomID)
	}
	appt, _ := snap.Data()["appointmentId"].(string)
	if !validID(appt) {
		return "", fmt.Errorf("%w: hmsRooms/%s has no usable appointmentId", errBadRoomRecord, roomID)
	}
	s.rooms.Store(roomID, appt)
	return appt, nil
}

func dropEmpty(m map[string]any, keys ...string) {
	for _, k := range keys {
		if v, ok := m[k].(string); ok && v == "" {
			delete(m, k)
		}
	}
}
