package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
)

// The audit trail (colAudit, audit.go, docs/security.md), read back: written once
// per request by the functions, never changed, read by scripts/audit.

// auditPageSize is how many entries AuditTrail reads per query: memory
// stays bounded by one page however long the trail. A var so that the
// tests can cross page boundaries with a few entries.
var auditPageSize = 500

// AuditFilter selects entries of the audit trail. Zero fields select
// everything: no AppointmentID is every appointment, no Since is from the
// first entry, no Until is to the last.
type AuditFilter struct {
	// AppointmentID, when set, keeps the entries of that appointment.
	AppointmentID string
	// UID, when set, keeps the entries of that user ("system" for the
	// functions' own actions).
	UID string
	// Since keeps entries at or after it (inclusive); Until keeps entries
	// before it (exclusive), so that consecutive ranges neither overlap
	// nor leave gaps.
	Since, Until time.Time
}

// AuditEntry is one auditLog document as the functions write it. A
// string field the entry does not have is "" (reason when granted, roomId
// when unknown); At is zero when the entry has no timestamp.
type AuditEntry struct {
	ID            string    // the document id (a random UUID)
	At            time.Time // server time of the request, UTC
	Action        string    // token, admit, consent, recording.start, recording.stop, endCall, recordingUrl, sweep.close
	Outcome       string    // granted | refused
	Reason        string    // why refused; "" when granted
	UID           string    // the caller, or "system"
	Role          string    // doctor | client | guest | none | system
	AppointmentID string
	RoomID        string
	RequestID     string
	AppCheck      string // verified | missing | invalid
	IP            string
	// Details is what was granted (strings, bools, timestamps as
	// time.Time in UTC); nil when the entry has none.
	Details map[string]any
}

// auditPlan is the query AuditTrail runs for a filter: equality on at most
// one field (eqField, with eqValue) then the `at` range, ordered by at
// and document id, so that each shape is served by one index of
// firestore.indexes.json: (appointmentId, at), (uid, at), or `at`'s own
// single-field index. When both an appointment and a uid are asked for,
// the query is the appointment's and the uid is kept in memory (keepUID):
// an appointment has tens of entries, so reading them all is cheap, and a
// third composite index (appointmentId, uid, at) would cost every entry's
// write for a query an engineer runs by hand.
type auditPlan struct {
	eqField, eqValue string
	keepUID          string
}

func planAudit(f AuditFilter) auditPlan {
	switch {
	case f.AppointmentID != "":
		return auditPlan{eqField: "appointmentId", eqValue: f.AppointmentID, keepUID: f.UID}
	case f.UID != "":
		return auditPlan{eqField: "uid", eqValue: f.UID}
	}
	return auditPlan{}
}

// AuditTrail calls each with every entry that f selects, in `at` order and,
// among entries of the same time, in document id order. (Firestore orders
// only documents that have the field: an entry without `at` is not read;
// the functions always write one.) It reads the
// trail a page at a time (auditPageSize entries, each page after the last
// document of the one before), so a trail of any length takes the memory
// of one page; an entry written meanwhile with a later `at` is read too.
//
// An error from each stops the walk and is returned as it is; a Firestore
// failure is returned as an *Error (errors.Is ErrUnavailable when worth
// retrying). Entries already passed to each stay passed.
func (s *Store) AuditTrail(ctx context.Context, f AuditFilter, each func(AuditEntry) error) error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil // an empty range
	}
	plan := planAudit(f)
	q := s.fs.Collection(colAudit).Query
	if plan.eqField != "" {
		q = q.Where(plan.eqField, "==", plan.eqValue)
	}
	if !f.Since.IsZero() {
		q = q.Where("at", ">=", f.Since)
	}
	if !f.Until.IsZero() {
		q = q.Where("at", "<", f.Until)
	}
	q = q.OrderBy("at", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc)

	size := max(auditPageSize, 1)
	var last *firestore.DocumentSnapshot
	for page := 1; ; page++ {
		pq := q.Limit(size)
		if last != nil {
			pq = pq.StartAfter(last)
		}
		snaps, err := pq.Documents(ctx).GetAll()
		if err != nil {
			return wrapf(err, "read audit trail (%s), page %d", describeAudit(f), page)
		}
		for _, snap := range snaps {
			e := auditEntryOf(snap)
			if plan.keepUID != "" && e.UID != plan.keepUID {
				continue
			}
			if err := each(e); err != nil {
				return err
			}
		}
		if len(snaps) < size {
			return nil
		}
		last = snaps[len(snaps)-1]
	}
}

// auditEntryOf decodes one entry. It is lenient: a field of an unexpected
// type is shown as its value rather than hiding the entry, because an
// audit reader must show everything there is.
func auditEntryOf(snap *firestore.DocumentSnapshot) AuditEntry {
	d := dataOf(snap)
	e := AuditEntry{
		ID:            snap.Ref.ID,
		Action:        auditStr(d["action"]),
		Outcome:       auditStr(d["outcome"]),
		Reason:        auditStr(d["reason"]),
		UID:           auditStr(d["uid"]),
		Role:          auditStr(d["role"]),
		AppointmentID: auditStr(d["appointmentId"]),
		RoomID:        auditStr(d["roomId"]),
		RequestID:     auditStr(d["requestId"]),
		AppCheck:      auditStr(d["appCheck"]),
		IP:            auditStr(d["ip"]),
	}
	if at, ok := d["at"].(time.Time); ok {
		e.At = at.UTC()
	}
	switch details := d["details"].(type) {
	case map[string]any:
		if len(details) > 0 {
			e.Details = auditValue(details).(map[string]any)
		}
	case nil:
	default:
		e.Details = map[string]any{"details": auditValue(details)} // not a map: shown, not hidden
	}
	return e
}

func auditStr(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// auditValue puts timestamps, at any depth, in UTC.
func auditValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC()
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = auditValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = auditValue(x)
		}
		return out
	}
	return v
}

func describeAudit(f AuditFilter) string {
	var parts []string
	if f.AppointmentID != "" {
		parts = append(parts, "appointment "+f.AppointmentID)
	}
	if f.UID != "" {
		parts = append(parts, "uid "+f.UID)
	}
	if !f.Since.IsZero() {
		parts = append(parts, "since "+f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until "+f.Until.UTC().Format(time.RFC3339Nano))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, ", ")
}
