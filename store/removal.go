package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
)

// Removals (docs/visit.md, "Removing someone"; SPEC §18): hmsRemove
// records removed.{uid}: {at, by} on calls/{id}, which hmsToken reads with
// the appointment, and keeps the same record in the call's book
// hmsCalls/{appointmentId}.removed, which every peer event reads already:
// so the webhook tells a removed user's join at no extra read (peerPlan).
// Both copies are written in one commit on condition that the book did
// not change (commitRead), so that they never disagree.

// ActionRemoveEnforce is the system's audit action of a removed user's
// join claimed for enforcement (peerPlan), written in the join's commit.
const ActionRemoveEnforce = "remove.enforce"

// RemovedPeer is a join of a removed user that this commit claimed for
// enforcement: the webhook asks 100ms to remove it, once per peer id.
type RemovedPeer struct {
	PeerID, UserID string
}

// removedOf reads the book's (or the call's) removed map: uid → record.
func removedOf(stored map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for uid, v := range mapAt(stored, "removed") {
		if m, ok := v.(map[string]any); ok {
			out[uid] = m
		}
	}
	return out
}

// RecordRemoval records that the doctor (by) removed uid: removed.{uid}
// on the call and its book, and admitted.{uid} dropped from both (a
// user allowed back goes through the waiting room again), with audit
// (when set) created in the same commit. A repeat keeps the first
// removal's record and writes it to the call again.
func (s *Store) RecordRemoval(ctx context.Context, appointmentID, uid, by string, at time.Time, audit *Audit) error {
	p := s.admissionPlan(appointmentID, uid, nil, func(stored map[string]any) (map[string]any, map[string]any) {
		rec := map[string]any{"at": norm(at), "by": by}
		book := map[string]any{}
		if old, ok := removedOf(stored)[uid]; ok {
			rec = map[string]any{"at": timeAt(old, "at"), "by": strAt(old, "by")}
		} else {
			book["removed"] = map[string]any{uid: rec}
		}
		return book, map[string]any{"removed": map[string]any{uid: rec}}
	})
	return s.commitCallPlan(ctx, appointmentID, p, audit, "record removal of "+uid)
}

// AllowBack undoes a removal of uid: removed.{uid} is dropped from the
// call and its book, with audit (when set) in the same commit. A user who
// was not removed changes nothing but the entry.
func (s *Store) AllowBack(ctx context.Context, appointmentID, uid string, audit *Audit) error {
	p := plan{read: s.callBookRef(appointmentID), step: func(stored map[string]any) (map[string]any, []write) {
		if _, ok := removedOf(stored)[uid]; !ok {
			return nil, nil // nothing to undo: the entry alone
		}
		drop := map[string]any{"removed": map[string]any{uid: firestore.Delete}}
		call := map[string]any{"removed": map[string]any{uid: firestore.Delete}, "updatedAt": firestore.ServerTimestamp}
		return drop, []write{{s.callRef(appointmentID), call}}
	}}
	return s.commitCallPlan(ctx, appointmentID, p, audit, "allow back "+uid)
}

// RecordWait sends uid back to the waiting room: admitted.{uid} is dropped
// from the call and its book, with waitingSince derived again and audit
// (when set) in the same commit.
func (s *Store) RecordWait(ctx context.Context, appointmentID, uid string, audit *Audit) error {
	return s.commitCallPlan(ctx, appointmentID, s.admissionPlan(appointmentID, uid, nil, nil), audit,
		"send "+uid+" back to the waiting room")
}
