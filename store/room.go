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

// EnsureRoom returns the room recorded in calls/{appt.ID}, or calls create
// and records its room in calls/{appt.ID} and hmsRooms/{roomId} in one
// atomic write. create runs outside any transaction (it calls 100ms, whose
// create-by-name is idempotent) and may run on several instances at once;
// the first room recorded wins and every caller gets that one.
func (s *Store) EnsureRoom(ctx context.Context, appt Appointment, create func(context.Context) (Room, error)) (Room, error) {
	if !validID(appt.ID) {
		return Room{}, wrapf(ErrNotFound, "ensure room for appointment %q", appt.ID)
	}
	if r, ok := s.callRooms.Load(appt.ID); ok {
		return r.(Room), nil
	}
	callRef := s.fs.Collection(colCalls).Doc(appt.ID)
	snap, err := callRef.Get(ctx)
	if err != nil && status.Code(err) != codes.NotFound {
		return Room{}, wrapf(err, "read call %s", appt.ID)
	}
	if r, ok := roomOf(snap); ok {
		s.callRooms.Store(appt.ID, r)
		return r, nil
	}
	created, err := create(ctx)
	if err != nil {
		return Room{}, fmt.Errorf("create room for appointment %s: %w", appt.ID, err)
	}
	if !validID(created.ID) {
		return Room{}, fmt.Errorf("create room for appointment %s: unusable room id %q", appt.ID, created.ID)
	}
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
	roomRef := s.fs.Collection(colRooms).Doc(created.ID)
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
	switch _, err := b.Commit(ctx); status.Code(err) {
	case codes.OK:
		s.callRooms.Store(appt.ID, created)
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
		snap, err := tx.Get(callRef)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		if r, ok := roomOf(snap); ok {
			got = r // another caller recorded first; never overwrite it
			return nil
		}
		// A room id already recorded for another appointment must not be
		// taken over: its events would then change this appointment's call.
		roomSnap, err := tx.Get(roomRef)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		if roomSnap != nil && roomSnap.Exists() {
			if owner, _ := roomSnap.Data()["appointmentId"].(string); owner != appt.ID {
				return fmt.Errorf("%w: 100ms room %s is recorded for appointment %q", ErrRoomTaken, created.ID, owner)
			}
		}
		got = created
		// The call document may hold event state without a room (it never
		// does, but merging costs nothing), so merge.
		withStatus := snap == nil || !snap.Exists() || snap.Data()["status"] == nil
		if err := tx.Set(callRef, callDoc(withStatus), firestore.MergeAll); err != nil {
			return err
		}
		return tx.Set(roomRef, roomDoc)
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return Room{}, wrapf(err, "record room %s for appointment %s", created.ID, appt.ID)
	}
	s.callRooms.Store(appt.ID, got)
	return got, nil
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

// appointmentForRoom resolves a 100ms room id to its appointment through
// hmsRooms, or returns "" for a room these functions did not create.
func (s *Store) appointmentForRoom(ctx context.Context, roomID string) (string, error) {
	if !validID(roomID) {
		return "", nil
	}
	if v, ok := s.rooms.Load(roomID); ok {
		return v.(string), nil
	}
	snap, err := s.fs.Collection(colRooms).Doc(roomID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		// Not cached: the room may be recorded a moment from now.
		return "", nil
	}
	if err != nil {
		return "", wrapf(err, "resolve room %s", roomID)
	}
	appt, _ := snap.Data()["appointmentId"].(string)
	if !validID(appt) {
		return "", errors.New("store: hmsRooms/" + roomID + " has no usable appointmentId")
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
