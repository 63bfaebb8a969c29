package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// colAudit is the audit trail: one entry per callable request of a
// signed-in user that names an appointment, and per system action
// (docs/security.md, "The audit trail"). No client reads or writes it
// (firestore.rules), and it has no TTL: a clinic keeps it as its records
// policy says (HIPAA's is six years, 45 CFR 164.316(b)(2)).
const colAudit = "auditLog"

// Outcomes of an audited request.
const (
	AuditGranted = "granted"
	AuditRefused = "refused"
)

// SystemUID is the uid of the functions' own actions in the trail.
const SystemUID = "system"

// Audit is one entry of the audit trail as a request builds it. ID names
// its document and is fixed when the request starts, so that writing the
// entry twice (a commit whose outcome was unknown, then the fallback
// write) still leaves one.
type Audit struct {
	ID            string
	Action        string
	Outcome       string
	Reason        string
	UID           string
	Role          string
	AppointmentID string
	RoomID        string
	RequestID     string
	AppCheck      string
	IP            string
	Details       map[string]any
}

// NewAuditID is a fresh id for an entry's document.
func NewAuditID() string { return uuid.NewString() }

// auditWrite is a as the create that goes into a commit; nil for nil.
func (s *Store) auditWrite(a *Audit) *write {
	if a == nil {
		return nil
	}
	if a.ID == "" {
		a.ID = NewAuditID()
	}
	d := map[string]any{
		"at":            firestore.ServerTimestamp,
		"action":        a.Action,
		"outcome":       a.Outcome,
		"uid":           clip(a.UID, maxTextBytes),
		"role":          a.Role,
		"appointmentId": clip(a.AppointmentID, maxTextBytes),
		"requestId":     clip(a.RequestID, maxTextBytes),
		"appCheck":      a.AppCheck,
		"ip":            clip(a.IP, maxTextBytes),
	}
	setText(d, "reason", a.Reason)
	setText(d, "roomId", a.RoomID)
	if len(a.Details) > 0 {
		details := make(map[string]any, len(a.Details))
		for k, v := range a.Details {
			if str, ok := v.(string); ok {
				v = clip(str, maxTextBytes)
			}
			if t, ok := v.(time.Time); ok {
				v = norm(t)
			}
			details[k] = v
		}
		d["details"] = details
	}
	return &write{ref: s.fs.Collection(colAudit).Doc(a.ID), data: d}
}

// WriteAudit writes a alone. An entry of the same id already there counts
// as written: it is the same request's.
func (s *Store) WriteAudit(ctx context.Context, a *Audit) error {
	w := s.auditWrite(a)
	if w == nil {
		return nil
	}
	_, err := w.ref.Create(ctx, w.data)
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return wrapf(err, "write audit entry %s", a.ID)
}
