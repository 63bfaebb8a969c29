package functions

import (
	"context"
	"fmt"
	"time"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/store"
)

// retentionDay is one day of RECORDING_RETENTION_DAYS.
const retentionDay = 24 * time.Hour

// sweepRetention is hmsSweep's retention job (docs/recordings.md): each
// recording and transcript created more than RECORDING_RETENTION_DAYS ago
// whose files are in RECORDING_BUCKET has them deleted, then its document
// marked deletedAt/deletedBy "retention" with one system retention.delete
// entry, unless its appointment is under legal hold (then it is kept, and
// the appointment counted held and listed for the runs after). Deleting
// first and marking after makes two runs at once safe: both delete (a file
// already gone counts as deleted), one marks and writes the entry. A run
// reads what expired since the last one (the store's cursor) and the
// appointments held before; it stops with the run's budget, and the next
// run goes on.
func (a *app) sweepRetention(ctx context.Context, st *store.Store, lim sweepLimits, now time.Time) (out sweepSummary) {
	if a.cfg.retentionDays == 0 || a.cfg.bucket == "" {
		return out
	}
	b, err := a.recordingBucket()
	if err != nil {
		out.callError("retention", err)
		return out
	}
	cutoff := now.Add(-time.Duration(a.cfg.retentionDays) * retentionDay)
	hold := map[string]bool{} // appointment → under legal hold, read once a run
	holds := func(appt string) (bool, error) {
		if h, ok := hold[appt]; ok {
			return h, nil
		}
		h, err := st.LegalHold(ctx, appt)
		if err == nil {
			hold[appt] = h
		}
		return h, err
	}
	handled := 0
	listedNow := map[string]bool{} // held appointments this run listed
	// deleteExpired deletes doc's files unless its appointment is held;
	// settled: nothing is left to do for doc until a hold is lifted. A
	// held appointment is listed before the cursor can pass its document
	// (and whatever the run's budget), so that no later run loses it.
	deleteExpired := func(doc store.StoredDoc) (settled bool) {
		objects := bucketObjects(b, doc)
		if len(objects) == 0 {
			return true // none of its files is ours to delete
		}
		held, err := holds(doc.AppointmentID)
		switch {
		case err != nil:
			out.callError(doc.AppointmentID, err)
			return false
		case held && !listedNow[doc.AppointmentID]:
			wctx, cancel := writeDeadline(ctx)
			err := st.SetRetentionHeld(wctx, []string{doc.AppointmentID}, nil)
			cancel()
			if err != nil {
				out.callError(doc.AppointmentID, err)
				return false
			}
			listedNow[doc.AppointmentID] = true
			return true
		case held:
			return true
		}
		handled++
		files, marked, err := a.deleteDoc(ctx, st, b, doc, objects, store.DeletedByRetention, "retention.delete", nil)
		switch {
		case err != nil:
			out.callError(doc.AppointmentID, err)
			return false
		case marked:
			out.RecordingsDeleted++
			out.FilesDeleted += files
		}
		return true
	}

	// The appointments held in earlier runs: still held, or lifted and
	// their expired documents deleted now.
	listed, err := st.RetentionHeld(ctx)
	if err != nil {
		out.callError("retention", err)
		return out
	}
	var released []string
	for _, appt := range listed {
		if handled >= lim.maxCalls || ctx.Err() != nil {
			break
		}
		if held, err := holds(appt); err != nil || held {
			if err != nil {
				out.callError(appt, err)
			}
			continue
		}
		docs, err := st.CallDocs(ctx, appt)
		if err != nil {
			out.callError(appt, err)
			continue
		}
		done := true
		for _, doc := range docs {
			if !doc.Deleted && !doc.CreatedAt.IsZero() && doc.CreatedAt.Before(cutoff) {
				done = deleteExpired(doc) && done
			}
		}
		if done {
			released = append(released, appt)
		}
	}

	err = st.EachExpiredDoc(ctx, cutoff, func(doc store.StoredDoc) (bool, bool) {
		settled := deleteExpired(doc)
		return settled, ctx.Err() == nil && handled < lim.maxCalls
	})
	if err != nil {
		out.callError("retention", err)
	}
	for _, held := range hold {
		if held {
			out.Held++
		}
	}
	wctx, cancel := writeDeadline(ctx)
	defer cancel()
	if err := st.SetRetentionHeld(wctx, nil, released); err != nil {
		out.callError("retention", err)
	}
	out.RetentionTruncated = handled >= lim.maxCalls
	return out
}

// bucketObjects are the objects of doc's files that are in b.
func bucketObjects(b *bucket.Bucket, doc store.StoredDoc) []string {
	var objects []string
	for _, loc := range doc.Locations {
		if o, ok := b.Object(loc); ok {
			objects = append(objects, o)
		}
	}
	return objects
}

// deleteDoc deletes objects (doc's files in b), then marks doc deleted by
// by with a system entry action naming them (bucket/path, never a link);
// marked is false when another run or an erasure marked it first.
func (a *app) deleteDoc(ctx context.Context, st *store.Store, b *bucket.Bucket, doc store.StoredDoc, objects []string,
	by, action string, extra map[string]any) (files int, marked bool, err error) {
	paths := make([]any, 0, len(objects))
	for _, o := range objects {
		dctx, cancel := context.WithTimeout(ctx, firestoreWriteTimeout)
		err := b.Delete(dctx, o)
		cancel()
		if err != nil {
			return 0, false, err
		}
		paths = append(paths, b.Path(o))
	}
	details := map[string]any{"objects": paths, "createdAt": doc.CreatedAt}
	if doc.IsTranscript() {
		details["transcriptId"] = doc.ID
	} else {
		details["recordingId"] = doc.ID
	}
	for k, v := range extra {
		details[k] = v
	}
	wctx, cancel := context.WithTimeout(ctx, firestoreWriteTimeout)
	defer cancel()
	marked, err = st.MarkDeleted(wctx, doc, by, &store.Audit{
		Action: action, Outcome: store.AuditGranted, UID: store.SystemUID, Role: store.SystemUID,
		AppointmentID: doc.AppointmentID, RequestID: a.newAuditID(), Details: details,
	})
	if err != nil {
		return 0, false, fmt.Errorf("mark %s %s deleted: %w", doc.Collection, doc.ID, err)
	}
	return len(objects), marked, nil
}
