package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
)

// An erasure (scripts/erase, docs/recordings.md): a consultation's raw
// events and the user names copied from them go; calls/{id} keeps its
// status and visit, with an erasure record, and the audit trail stays.

// Erasure is what calls/{id}.erasure records.
type Erasure struct {
	At                   time.Time
	By, Reason           string
	Files, Events, Names int
}

// EventIDs returns the ids of the raw events of an appointment: those
// resolved to it, and those of its call's room (an event kept before its
// room was known names the room only).
func (s *Store) EventIDs(ctx context.Context, appointmentID string) ([]string, error) {
	if !validID(appointmentID) {
		return nil, wrapf(ErrNotFound, "find the events of %q", appointmentID)
	}
	seen := map[string]bool{}
	var ids []string
	collect := func(q firestore.Query, what string) error {
		refs, err := q.Select().Documents(ctx).GetAll()
		if err != nil {
			return wrapf(err, "find the events of %s by %s", appointmentID, what)
		}
		for _, r := range refs {
			if !seen[r.Ref.ID] {
				seen[r.Ref.ID] = true
				ids = append(ids, r.Ref.ID)
			}
		}
		return nil
	}
	events := s.fs.Collection(colEvents)
	if err := collect(events.Where("appointmentId", "==", appointmentID), "appointment"); err != nil {
		return nil, err
	}
	snap, err := s.callRef(appointmentID).Get(ctx)
	switch {
	case isNotFound(err):
		return ids, nil
	case err != nil:
		return nil, wrapf(err, "read call %s", appointmentID)
	}
	if room := strAt(snap.Data(), "roomId"); room != "" {
		if err := collect(events.Where("roomId", "==", room), "room"); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// DeleteEvents deletes hmsEvents documents by id, in batches; one already
// gone is no error.
func (s *Store) DeleteEvents(ctx context.Context, ids []string) error {
	for start := 0; start < len(ids); start += 400 {
		b := s.fs.Batch()
		for _, id := range ids[start:min(start+400, len(ids))] {
			b.Delete(s.fs.Collection(colEvents).Doc(id))
		}
		if _, err := b.Commit(ctx); err != nil {
			return wrapf(err, "delete %d events", min(400, len(ids)-start))
		}
	}
	return nil
}

// CopiedNames counts the user names copied from events onto the sessions
// of a call (sessions/{sid}.peers.{peerId}.userName); with erase, it also
// deletes them, session by session, and counts those deleted.
func (s *Store) CopiedNames(ctx context.Context, appointmentID string, erase bool) (int, error) {
	if !validID(appointmentID) {
		return 0, wrapf(ErrNotFound, "find the names of %q", appointmentID)
	}
	snaps, err := s.callRef(appointmentID).Collection(colSessions).Documents(ctx).GetAll()
	if err != nil {
		return 0, wrapf(err, "read the sessions of %s", appointmentID)
	}
	n := 0
	for _, snap := range snaps {
		var updates []firestore.Update
		for pid, p := range mapAt(snap.Data(), "peers") {
			if m, ok := p.(map[string]any); ok {
				if _, named := m["userName"]; named {
					updates = append(updates, firestore.Update{FieldPath: firestore.FieldPath{"peers", pid, "userName"}, Value: firestore.Delete})
				}
			}
		}
		n += len(updates)
		if !erase || len(updates) == 0 {
			continue
		}
		if _, err := snap.Ref.Update(ctx, updates); err != nil {
			return 0, wrapf(err, "delete the names of session %s of %s", snap.Ref.ID, appointmentID)
		}
	}
	return n, nil
}

// RecordErasure writes calls/{id}.erasure {at, by, reason, deleted: {files,
// events, names}} beside what the call holds (status and visit stay), with
// audit in the same commit.
func (s *Store) RecordErasure(ctx context.Context, appointmentID string, e Erasure, audit *Audit) error {
	if !validID(appointmentID) {
		return wrapf(ErrNotFound, "record the erasure of %q", appointmentID)
	}
	b := s.fs.Batch()
	b.Set(s.callRef(appointmentID), map[string]any{"erasure": map[string]any{
		"at": norm(e.At), "by": clip(e.By, maxTextBytes), "reason": clip(e.Reason, maxTextBytes),
		"deleted": map[string]any{"files": e.Files, "events": e.Events, "names": e.Names},
	}, "updatedAt": firestore.ServerTimestamp}, firestore.MergeAll)
	if w := s.auditWrite(audit); w != nil {
		b.Create(w.ref, w.data)
	}
	if _, err := b.Commit(ctx); err != nil {
		return wrapf(err, "record the erasure of %s", appointmentID)
	}
	return nil
}
