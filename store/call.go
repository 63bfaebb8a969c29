package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// RecordEndedBy records on calls/{appointmentID} who ended the call for
// everyone (docs/callables.md, hmsEndCall): endedBy {uid, role, at, lock}. lock stays true until
// hmsToken re-enables the room (ClearRoomLock). A repeat replaces the record: the
// latest end is the one that stands.
func (s *Store) RecordEndedBy(ctx context.Context, appointmentID, uid, role string, lock bool, at time.Time) error {
	if !validID(appointmentID) {
		return wrapf(ErrNotFound, "record endedBy on call %q", appointmentID)
	}
	// Update, not set: a call document that does not exist must not be
	// created half-empty by this.
	_, err := s.callRef(appointmentID).Update(ctx, []firestore.Update{
		{Path: "endedBy", Value: map[string]any{"uid": uid, "role": role, "at": norm(at), "lock": lock}},
		{Path: "updatedAt", Value: firestore.ServerTimestamp},
	})
	return wrapf(err, "record endedBy on call %s", appointmentID)
}

// File is one downloadable file of a recording or transcript document.
type File struct {
	// Ref names the document and, for a transcript, the file inside it, for
	// RememberAssetID.
	Ref FileRef
	// AssetID is 100ms's recording-asset id, empty when no event named one
	// (SFU recordings): it is then looked up by room, session and path.
	AssetID, Location, SessionID, Kind string
	// Deleted: the file was deleted from the clinic's bucket (retention
	// or erasure, deletedAt set); it has no link any more.
	Deleted bool
}

// FileRef says where a file's assetId is kept.
type FileRef struct {
	appointmentID, collection, docID string
	field                            string // transcript file ("transcriptTxt"), empty for a recording
	layer                            int    // HLS layer index, -1 otherwise
}

// Transcript files a caller may ask for (docs/callables.md, hmsRecordingUrl).
var transcriptFiles = map[string]bool{"transcriptTxt": true, "transcriptSrt": true, "transcriptJson": true, "summaryJson": true}

// RecordingFile reads calls/{a}/recordings/{recordingID}; ErrNotFound when
// it does not exist. An HLS recording's file is its first layer that has
// an asset id (or else its first layer).
func (s *Store) RecordingFile(ctx context.Context, appointmentID, recordingID string) (File, error) {
	if !validID(appointmentID) || !validID(recordingID) {
		return File{}, wrapf(ErrNotFound, "read recording %q of %q", recordingID, appointmentID)
	}
	snap, err := s.recordingRef(appointmentID, recordingID).Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
		return File{}, wrapf(ErrNotFound, "read recording %s of %s", recordingID, appointmentID)
	case err != nil:
		return File{}, wrapf(err, "read recording %s of %s", recordingID, appointmentID)
	}
	d := snap.Data()
	f := File{
		Ref:     FileRef{appointmentID: appointmentID, collection: colRecordings, docID: recordingID, layer: -1},
		AssetID: strAt(d, "assetId"), Location: strAt(d, "location"),
		SessionID: strAt(d, "sessionId"), Kind: strAt(d, "kind"),
	}
	_, f.Deleted = d["deletedAt"]
	if layers, ok := d["layers"].([]any); ok && f.AssetID == "" && len(layers) > 0 {
		pick := 0
		for i, l := range layers {
			if m, ok := l.(map[string]any); ok && strAt(m, "assetId") != "" {
				pick = i
				break
			}
		}
		m, _ := layers[pick].(map[string]any)
		f.AssetID, f.Location, f.Ref.layer = strAt(m, "assetId"), strAt(m, "location"), pick
	}
	return f, nil
}

// TranscriptFile reads one file (transcriptTxt, transcriptSrt,
// transcriptJson, summaryJson) of calls/{a}/transcripts/{transcriptID};
// ErrNotFound when the document or that file does not exist.
func (s *Store) TranscriptFile(ctx context.Context, appointmentID, transcriptID, file string) (File, error) {
	if !validID(appointmentID) || !validID(transcriptID) || !transcriptFiles[file] {
		return File{}, wrapf(ErrNotFound, "read transcript %q file %q of %q", transcriptID, file, appointmentID)
	}
	snap, err := s.transcriptRef(appointmentID, transcriptID).Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
		return File{}, wrapf(ErrNotFound, "read transcript %s of %s", transcriptID, appointmentID)
	case err != nil:
		return File{}, wrapf(err, "read transcript %s of %s", transcriptID, appointmentID)
	}
	d := snap.Data()
	m, ok := d[file].(map[string]any)
	if !ok {
		return File{}, wrapf(ErrNotFound, "transcript %s of %s has no %s", transcriptID, appointmentID, file)
	}
	_, deleted := d["deletedAt"]
	return File{Deleted: deleted,
		Ref:     FileRef{appointmentID: appointmentID, collection: colTranscripts, docID: transcriptID, field: file, layer: -1},
		AssetID: strAt(m, "assetId"), Location: strAt(m, "location"), SessionID: strAt(d, "sessionId"),
		Kind: file,
	}, nil
}

// RememberAssetID stores an asset id that was looked up on the file's
// document, so that the next request needs no lookup. It never replaces an
// id already there (an event's word stands).
func (s *Store) RememberAssetID(ctx context.Context, ref FileRef, assetID string) error {
	if ref.docID == "" || assetID == "" || len(assetID) > maxEventIDBytes {
		return nil
	}
	doc := s.callRef(ref.appointmentID).Collection(ref.collection).Doc(ref.docID)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(doc)
		if err != nil {
			return err
		}
		d := snap.Data()
		switch {
		case ref.field != "":
			if strAt(mapAt(d, ref.field), "assetId") != "" {
				return nil
			}
			return tx.Update(doc, []firestore.Update{{FieldPath: firestore.FieldPath{ref.field, "assetId"}, Value: assetID}})
		case ref.layer >= 0:
			// Layers are an array: rewrite it whole, with the one id added.
			layers, _ := d["layers"].([]any)
			if ref.layer >= len(layers) {
				return nil
			}
			m, ok := layers[ref.layer].(map[string]any)
			if !ok || strAt(m, "assetId") != "" {
				return nil
			}
			m["assetId"] = assetID
			return tx.Update(doc, []firestore.Update{{Path: "layers", Value: layers}})
		default:
			if strAt(d, "assetId") != "" {
				return nil
			}
			return tx.Update(doc, []firestore.Update{{Path: "assetId", Value: assetID}})
		}
	}, firestore.MaxAttempts(txAttempts))
	return wrapf(err, "remember asset id on %s/%s of %s", ref.collection, ref.docID, ref.appointmentID)
}

// RecordAdmission records that the doctor (by) admitted uid from the
// waiting room: admitted.{uid}: {at, by} on calls/{appointmentID} and in
// its book, which the webhook reads (an admitted user no longer waits:
// waitingSince, notify.go), with waitingSince derived again. audit, when
// set, is created in the same commit. The call document may not exist yet
// (admitted before anyone joined): it is then created with these fields,
// and RecordRoom merges the room into it.
func (s *Store) RecordAdmission(ctx context.Context, appointmentID, uid, by string, at time.Time, audit *Audit) error {
	rec := map[string]any{"at": norm(at), "by": by}
	return s.commitCallPlan(ctx, appointmentID, s.admissionPlan(appointmentID, uid, rec, nil), audit, "record admission of "+uid)
}

// admissionPlan sets uid's admission to rec, or drops it (rec nil), in the
// call's book and on the call, and derives the call's waitingSince again;
// also, when set, merges then (the book's fields, the call's fields) into
// what it writes.
func (s *Store) admissionPlan(appt, uid string, rec map[string]any, also func(stored map[string]any) (book, call map[string]any)) plan {
	return plan{read: s.callBookRef(appt), step: func(stored map[string]any) (map[string]any, []write) {
		var value any = firestore.Delete
		if rec != nil {
			value = rec
		}
		book := map[string]any{"admitted": map[string]any{uid: value}}
		call := map[string]any{"admitted": map[string]any{uid: value}, "updatedAt": firestore.ServerTimestamp}
		if also != nil {
			b, c := also(stored)
			deepMerge(book, b)
			deepMerge(call, c)
		}
		pr := presenceOf(stored)
		if rec != nil {
			pr.admitted[uid] = true
		} else {
			delete(pr.admitted, uid)
		}
		call["waitingSince"] = pr.waitingSince(pr.present(activeSession(pr.sessions)), s.waitingRole)
		return book, []write{{s.callRef(appt), call}}
	}}
}

// RecordConsent records on calls/{appointmentID} uid's answer to recording:
// consent.{uid}: {recording, at} (server time; the latest answer stands).
// audit, when set, is created in the same commit.
func (s *Store) RecordConsent(ctx context.Context, appointmentID, uid string, recording bool, audit *Audit) error {
	return s.mergeCall(ctx, appointmentID, map[string]any{
		"consent":   map[string]any{uid: map[string]any{"recording": recording, "at": firestore.ServerTimestamp}},
		"updatedAt": firestore.ServerTimestamp,
	}, audit, "record consent of "+uid)
}

// mergeCall merges fields into calls/{appointmentID} with audit (when set)
// created in the same commit: one atomic commit, no reads (see
// commitBlind), for a callable's change whose fields need no stored value.
func (s *Store) mergeCall(ctx context.Context, appointmentID string, fields map[string]any, audit *Audit, op string) error {
	if !validID(appointmentID) {
		return wrapf(ErrNotFound, "%s on call %q", op, appointmentID)
	}
	b := s.fs.Batch() //nolint:staticcheck // SA1019: one atomic commit, no reads (see commitBlind).
	b.Set(s.callRef(appointmentID), fields, firestore.MergeAll)
	if w := s.auditWrite(audit); w != nil {
		b.Create(w.ref, w.data)
	}
	_, err := b.Commit(ctx)
	return wrapf(err, "%s on call %s", op, appointmentID)
}

// commitCallPlan commits a plan that reads the call's book (the recording
// control, removals) with audit (when set) created in the same commit; a
// plan that changes nothing still creates the entry.
func (s *Store) commitCallPlan(ctx context.Context, appointmentID string, p plan, audit *Audit, op string) error {
	if !validID(appointmentID) {
		return wrapf(ErrNotFound, "%s on call %q", op, appointmentID)
	}
	return wrapf(s.commitRead(ctx, s.auditWrite(audit), p), "%s on call %s", op, appointmentID)
}
