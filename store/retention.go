package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// Recordings and transcripts whose files are in the clinic's own bucket
// (docs/recordings.md): retention (hmsSweep) and erasure (scripts/erase)
// delete the files, then mark the document here, once.

// Who deleted a document's files (deletedBy).
const (
	DeletedByRetention = "retention"
	DeletedByErasure   = "erasure"
)

// StoredDoc is a recording or transcript document with every storage
// location it names: the file, and a recording's chat file, HLS playlist,
// layers and thumbnails; a transcript's txt, srt, json and summary.
type StoredDoc struct {
	AppointmentID string
	// Collection is "recordings" or "transcripts"; ID the document's id.
	Collection, ID string
	CreatedAt      time.Time
	Locations      []string
	// Deleted: its files were deleted already (deletedAt is set).
	Deleted bool
}

// IsTranscript tells a transcript from a recording.
func (d StoredDoc) IsTranscript() bool { return d.Collection == colTranscripts }

func (s *Store) storedDocRef(d StoredDoc) *firestore.DocumentRef {
	return s.callRef(d.AppointmentID).Collection(d.Collection).Doc(d.ID)
}

// storedDocOf reads a recording or transcript snapshot.
func storedDocOf(snap *firestore.DocumentSnapshot) StoredDoc {
	d := snap.Data()
	doc := StoredDoc{Collection: snap.Ref.Parent.ID, ID: snap.Ref.ID, CreatedAt: timeAt(d, "createdAt")}
	if call := snap.Ref.Parent.Parent; call != nil {
		doc.AppointmentID = call.ID
	}
	_, doc.Deleted = d["deletedAt"]
	add := func(m map[string]any, k string) {
		if v := strAt(m, k); v != "" {
			doc.Locations = append(doc.Locations, v)
		}
	}
	if doc.IsTranscript() {
		for _, f := range transcriptFileNames {
			add(mapAt(d, f), "location")
		}
		return doc
	}
	for _, k := range []string{"location", "chatLocation", "playlistLocation"} {
		add(d, k)
	}
	for _, list := range []string{"layers", "thumbnails"} {
		items, _ := d[list].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				add(m, "location")
			}
		}
	}
	return doc
}

// transcriptFileNames are a transcript's files, in a fixed order.
var transcriptFileNames = []string{"transcriptTxt", "transcriptSrt", "transcriptJson", "summaryJson"}

// The retention state, hmsSweep/retention: per collection, settledThrough
// is the createdAt up to which every document is settled (its files
// deleted, none of them in the bucket, or its appointment held and listed
// in held), so that a run reads only what expired since the last one and
// never again the documents already deleted; held lists the appointments
// whose documents the cursor passed under a legal hold, which each run
// looks at again (RetentionHeld) until the hold is lifted.
const retentionStateID = "retention"

func (s *Store) retentionRef() *firestore.DocumentRef {
	return s.fs.Collection(colSweep).Doc(retentionStateID)
}

// ExpiredDocFunc is called with each expired document not yet deleted; it
// says whether the document is settled (nothing left for retention to do
// unless its hold is lifted) and whether to go on.
type ExpiredDocFunc func(StoredDoc) (settled, more bool)

// EachExpiredDoc calls fn with each recording and transcript created
// before before, from where the last run settled everything, oldest first,
// recordings then transcripts (collection-group queries on createdAt,
// whose indexes firestore.indexes.json declares), until fn says stop or
// ctx ends. Documents deleted already are passed over. It then moves each
// collection's settledThrough to the latest createdAt up to which every
// document it read is settled (the next run reads only after it; never
// back: two runs at once keep the later), in one transaction when it
// moved.
func (s *Store) EachExpiredDoc(ctx context.Context, before time.Time, fn ExpiredDocFunc) error {
	snap, err := s.retentionRef().Get(ctx)
	if err != nil && !isNotFound(err) {
		return wrapf(err, "read the retention state")
	}
	from := mapAt(dataOf(snap), "settledThrough")
	moved := map[string]time.Time{}
	stop := false
	for _, col := range []string{colRecordings, colTranscripts} {
		if stop {
			break
		}
		q := s.fs.CollectionGroup(col).Where("createdAt", "<", before)
		if t := timeAt(from, col); !t.IsZero() {
			q = q.Where("createdAt", ">", t)
		}
		it := q.OrderBy("createdAt", firestore.Asc).Documents(ctx)
		// through: every document created up to it is settled; prior: the
		// settled instant before it, where the cursor stays when a document
		// of through's own instant is not settled.
		var through, prior time.Time
		unbroken := true
		for !stop {
			snap, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if err != nil {
				it.Stop()
				return wrapf(err, "query %s created before %s", col, before.UTC().Format(time.RFC3339))
			}
			doc := storedDocOf(snap)
			settled, more := doc.Deleted, true
			if !doc.Deleted {
				settled, more = fn(doc)
			}
			switch {
			case !unbroken:
			case settled && !doc.CreatedAt.IsZero():
				if doc.CreatedAt.After(through) {
					prior, through = through, doc.CreatedAt
				}
			default:
				unbroken = false
				if doc.CreatedAt.Equal(through) {
					through = prior
				}
			}
			stop = !more || ctx.Err() != nil
		}
		it.Stop()
		if stop {
			// Stopped within the range: documents of through's own instant
			// may be unread, and the next run reads only after the cursor.
			through = prior // before a partly read instant
		}
		if !through.IsZero() {
			moved[col] = through
		}
	}
	if len(moved) == 0 {
		return nil
	}
	return wrapf(s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(s.retentionRef())
		if err != nil && !isNotFound(err) {
			return err
		}
		stored := mapAt(dataOf(snap), "settledThrough")
		through := map[string]any{}
		for col, t := range moved {
			if t.After(timeAt(stored, col)) {
				through[col] = t
			}
		}
		if len(through) == 0 {
			return nil
		}
		return tx.Set(s.retentionRef(), map[string]any{"settledThrough": through, "updatedAt": firestore.ServerTimestamp}, firestore.MergeAll)
	}, firestore.MaxAttempts(txAttempts)), "move the retention state")
}

// RetentionHeld lists the appointments whose expired documents were kept
// under a legal hold (SetRetentionHeld).
func (s *Store) RetentionHeld(ctx context.Context) ([]string, error) {
	snap, err := s.retentionRef().Get(ctx)
	switch {
	case isNotFound(err):
		return nil, nil
	case err != nil:
		return nil, wrapf(err, "read the retention state")
	}
	var out []string
	for appt, v := range mapAt(snap.Data(), "held") {
		if v == true {
			out = append(out, appt)
		}
	}
	slices.Sort(out)
	return out, nil
}

// SetRetentionHeld adds appointments to the held list and removes those
// whose hold was lifted and whose expired documents are now deleted, in
// one write.
func (s *Store) SetRetentionHeld(ctx context.Context, add, remove []string) error {
	held := map[string]any{}
	for _, a := range add {
		if validID(a) {
			held[a] = true
		}
	}
	for _, a := range remove {
		if validID(a) {
			held[a] = firestore.Delete
		}
	}
	if len(held) == 0 {
		return nil
	}
	_, err := s.retentionRef().Set(ctx, map[string]any{"held": held, "updatedAt": firestore.ServerTimestamp}, firestore.MergeAll)
	return wrapf(err, "record the appointments held from retention")
}

// CallDocs returns every recording and transcript of a call, deleted ones
// included.
func (s *Store) CallDocs(ctx context.Context, appointmentID string) ([]StoredDoc, error) {
	if !validID(appointmentID) {
		return nil, wrapf(ErrNotFound, "read the recordings of %q", appointmentID)
	}
	var docs []StoredDoc
	for _, col := range []string{colRecordings, colTranscripts} {
		snaps, err := s.callRef(appointmentID).Collection(col).Documents(ctx).GetAll()
		if err != nil {
			return nil, wrapf(err, "read the %s of %s", col, appointmentID)
		}
		for _, snap := range snaps {
			docs = append(docs, storedDocOf(snap))
		}
	}
	return docs, nil
}

// LegalHold reports whether appointments/{id} carries legalHold: true
// (the app sets it); an appointment that does not exist holds nothing.
func (s *Store) LegalHold(ctx context.Context, appointmentID string) (bool, error) {
	if !validID(appointmentID) {
		return false, nil
	}
	snap, err := s.fs.Collection(colAppointments).Doc(appointmentID).Get(ctx)
	switch {
	case isNotFound(err):
		return false, nil
	case err != nil:
		return false, wrapf(err, "read the legal hold of %s", appointmentID)
	}
	held, _ := snap.Data()["legalHold"].(bool)
	return held, nil
}

// MarkDeleted records that doc's files are deleted: deletedAt (server
// time), deletedBy, and its links dropped (they lead nowhere now), with
// audit created in the same commit. It does so once: a document already
// marked (by another run at once, or an erasure) is left as it is, and
// marked is false, so that two sweeps at once write one entry.
func (s *Store) MarkDeleted(ctx context.Context, doc StoredDoc, by string, audit *Audit) (marked bool, err error) {
	ref := s.storedDocRef(doc)
	err = s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		marked = false
		snap, err := tx.Get(ref)
		switch {
		case isNotFound(err):
			return nil
		case err != nil:
			return err
		}
		d := snap.Data()
		if _, done := d["deletedAt"]; done {
			return nil
		}
		updates := []firestore.Update{{Path: "deletedAt", Value: firestore.ServerTimestamp}, {Path: "deletedBy", Value: by}}
		if doc.IsTranscript() {
			for _, f := range transcriptFileNames {
				if _, ok := mapAt(d, f)["url"]; ok {
					updates = append(updates, firestore.Update{FieldPath: firestore.FieldPath{f, "url"}, Value: firestore.Delete})
				}
			}
		} else {
			for _, k := range []string{"url", "chatUrl", "playlistUrl"} {
				if _, ok := d[k]; ok {
					updates = append(updates, firestore.Update{Path: k, Value: firestore.Delete})
				}
			}
			for _, list := range []string{"layers", "thumbnails"} {
				if items, ok := d[list].([]any); ok {
					for _, it := range items {
						if m, ok := it.(map[string]any); ok {
							delete(m, "url")
						}
					}
					updates = append(updates, firestore.Update{Path: list, Value: items})
				}
			}
		}
		if err := tx.Update(ref, updates); err != nil {
			return err
		}
		if w := s.auditWrite(audit); w != nil {
			if err := tx.Create(w.ref, w.data); err != nil {
				return err
			}
		}
		marked = true
		return nil
	}, firestore.MaxAttempts(txAttempts))
	if err != nil {
		return false, wrapf(err, "mark %s/%s of %s deleted", doc.Collection, doc.ID, doc.AppointmentID)
	}
	return marked, nil
}
