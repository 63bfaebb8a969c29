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
	callRef, roomRef := s.callRef(appt.ID), s.roomRef(created.ID)
	callDoc := func(withStatus bool) map[string]any {
		call := map[string]any{
			"appointmentId": appt.ID,
			"doctorId":      appt.DoctorID,
			"clientId":      appt.ClientID,
			"roomId":        created.ID,
			"roomName":      created.Name,
			"templateId":    created.TemplateID,
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
	roomDoc := map[string]any{
		"appointmentId": appt.ID,
		"roomName":      created.Name,
		"createdAt":     firestore.ServerTimestamp,
	}
	dropEmpty(roomDoc, "roomName")

	// The usual case, no room recorded yet: one commit that creates both
	// documents, and fails if either exists (a racing caller recorded
	// first). A transaction would cost two more round trips and locks.
	b := s.fs.Batch() //nolint:staticcheck // SA1019: one atomic commit, no reads (see commitBlind).
	b.Create(callRef, callDoc(true))
	b.Create(roomRef, roomDoc)
	b.Set(s.callBookRef(appt.ID), participantsBook(appt), firestore.MergeAll)
	if audit != nil {
		audit.RoomID = created.ID
		w := s.auditWrite(audit)
		b.Create(w.ref, w.data)
	}
	switch _, err := b.Commit(ctx); status.Code(err) {
	case codes.OK:
		s.rooms.Store(created.ID, appt.ID)
		return created, nil
	case codes.AlreadyExists, codes.Aborted:
		// Aborted: the commit waited too long on a racing caller's
		// transaction lock; the transaction below settles it either way.
	default:
		return Room{}, wrapf(err, "record room %s for appointment %s", created.ID, appt.ID)
	}

	// Someone was first: a transaction reads what is recorded and records
	// this room only if there is still none. Racing callers in this
	// instance take turns: on the same document, concurrent transactions
	// wait on each other's locks until the server aborts one, which costs
	// seconds on the emulator.
	unlock, err := s.lock(ctx, colCalls+"/"+appt.ID)
	if err != nil {
		return Room{}, wrapf(err, "record room for appointment %s", appt.ID)
	}
	defer unlock()
	var got Room
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snaps, err := tx.GetAll([]*firestore.DocumentRef{callRef, roomRef})
		if err != nil {
			return err
		}
		if r, ok := roomOf(snaps[0]); ok {
			got = r // another caller recorded first; never overwrite it
			return s.createAuditIn(tx, audit, r)
		}
		if snaps[1].Exists() {
			if owner, _ := snaps[1].Data()["appointmentId"].(string); owner != appt.ID {
				return fmt.Errorf("%w: 100ms room %s is recorded for appointment %q", ErrConflict, created.ID, owner)
			}
		}
		got = created
		// The call document may hold event state without a room (it never
		// does, but merging costs nothing), so merge.
		withStatus := !snaps[0].Exists() || snaps[0].Data()["status"] == nil
		if err := tx.Set(callRef, callDoc(withStatus), firestore.MergeAll); err != nil {
			return err
		}
		if err := tx.Set(roomRef, roomDoc); err != nil {
			return err
		}
		if err := tx.Set(s.callBookRef(appt.ID), participantsBook(appt), firestore.MergeAll); err != nil {
			return err
		}
		return s.createAuditIn(tx, audit, created)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return Room{}, wrapf(err, "record room %s for appointment %s", created.ID, appt.ID)
	}
	if got == created {
		s.rooms.Store(created.ID, appt.ID)
	}
	return got, nil
}

// participantsBook is what the call's bookkeeping document keeps of the
// appointment: whose time the visit sums (presence.go).
func participantsBook(appt Appointment) map[string]any {
	return map[string]any{"doctorId": appt.DoctorID, "clientId": appt.ClientID}
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
