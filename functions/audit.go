package functions

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/telemed/videocalls/store"
)

// The audit trail (docs/security.md, "The audit trail"): every callable
// request of a signed-in user that names an appointment leaves exactly one
// entry, granted or refused, written before the answer. A grant whose
// request writes Firestore anyway carries its entry in that write; a grant
// that acts on 100ms writes its entry before it acts; everything else is
// written by serveCallable once the handler is done. When the entry cannot
// be written, nothing is granted and the answer is UNAVAILABLE.

// Roles in the trail: the caller's part in the appointment.
const (
	auditRoleDoctor = "doctor"
	auditRoleClient = "client"
	auditRoleGuest  = "guest"
	auditRoleNone   = "none"
)

// App Check states in the trail.
const (
	appCheckVerified = "verified"
	appCheckMissing  = "missing"
	appCheckInvalid  = "invalid" // refused by the Admin SDK, or not checkable (keys not fetched)
)

// requestAudit is the entry of one callable request, filled in as the
// handler learns what is asked and who asks it.
type requestAudit struct {
	mu      sync.Mutex
	entry   store.Audit
	named   bool // the request named an appointment: it is audited
	written bool
}

type auditKey struct{}

func withAudit(ctx context.Context, ra *requestAudit) context.Context {
	return context.WithValue(ctx, auditKey{}, ra)
}

// auditOf is the request's entry; a nil one (a request outside a callable)
// takes every call and records nothing.
func auditOf(ctx context.Context) *requestAudit {
	ra, _ := ctx.Value(auditKey{}).(*requestAudit)
	return ra
}

func (ra *requestAudit) update(f func(e *store.Audit)) {
	if ra == nil {
		return
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	f(&ra.entry)
}

// appointment marks the request as audited: it names appointment id.
func (ra *requestAudit) appointment(id string) {
	ra.update(func(e *store.Audit) { e.AppointmentID = id })
	if ra != nil {
		ra.mu.Lock()
		ra.named = true
		ra.mu.Unlock()
	}
}

func (ra *requestAudit) role(role string)     { ra.update(func(e *store.Audit) { e.Role = role }) }
func (ra *requestAudit) room(id string)       { ra.update(func(e *store.Audit) { e.RoomID = id }) }
func (ra *requestAudit) action(action string) { ra.update(func(e *store.Audit) { e.Action = action }) }

// requestID is the request's id in the trail, for the entries of the
// system actions it sets off.
func (ra *requestAudit) requestID() string {
	if ra == nil {
		return ""
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	return ra.entry.RequestID
}

// detail records what is granted (a token's jti, a link's file); never a
// secret, a token or a link itself.
func (ra *requestAudit) detail(key string, value any) {
	ra.update(func(e *store.Audit) {
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details[key] = value
	})
}

// granted is the entry as a grant writes it, for a store write that
// carries it; nil when the request is not audited. After that write
// succeeds, the handler calls wrote.
func (ra *requestAudit) granted() *store.Audit {
	if ra == nil {
		return nil
	}
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if !ra.named || ra.written {
		return nil
	}
	e := ra.entry
	e.Outcome, e.Reason = store.AuditGranted, ""
	e.Details = copyDetails(ra.entry.Details)
	return &e
}

// wrote records that the entry is in Firestore.
func (ra *requestAudit) wrote() {
	if ra != nil {
		ra.mu.Lock()
		ra.written = true
		ra.mu.Unlock()
	}
}

func copyDetails(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// auditUnavailable is the answer when the entry could not be written:
// nothing was granted, and a retry may succeed.
func auditUnavailable(cause error) *callError {
	return fail(statusUnavailable, reasonAuditUnavailable, "The request could not be recorded, so it was not carried out; try again.", cause)
}

// writeGrant writes the request's granted entry on its own, before the
// handler acts on 100ms (ending a room, moving a peer, starting a
// recording), so that no such action goes unrecorded.
func writeGrant(ctx context.Context, st *store.Store) error {
	ra := auditOf(ctx)
	e := ra.granted()
	if e == nil {
		return nil
	}
	wctx, cancel := detachedWrite(ctx)
	defer cancel()
	if err := st.WriteAudit(wctx, e); err != nil {
		return auditUnavailable(err)
	}
	ra.wrote()
	return nil
}

// finishAudit writes the entry of a request its handler did not write: a
// refusal (cerr), or a grant with no write of its own (a token for a room
// already recorded). It runs past a caller that went away: an abandoned
// request is still recorded.
func (a *app) finishAudit(ctx context.Context, ra *requestAudit, cerr *callError) *callError {
	if ra == nil {
		return nil
	}
	if cerr != nil && cerr.reason == reasonStoreUnavailable {
		// Firestore did not answer the request's own read: the entry
		// cannot be written either, and trying would hold the answer
		// another deadline. Nothing was granted; the answer is already
		// UNAVAILABLE.
		return nil
	}
	ra.mu.Lock()
	if !ra.named || ra.written {
		ra.mu.Unlock()
		return nil
	}
	e := ra.entry
	e.Details = copyDetails(ra.entry.Details)
	ra.mu.Unlock()
	if e.Role == "" {
		e.Role = auditRoleNone
	}
	e.Outcome = store.AuditGranted
	if cerr != nil {
		e.Outcome, e.Reason, e.Details = store.AuditRefused, cerr.reason, nil
	}
	wctx, cancel := detachedWrite(ctx)
	defer cancel()
	st, err := a.firestore(wctx)
	if err == nil {
		err = st.WriteAudit(wctx, &e)
	}
	if err != nil {
		return auditUnavailable(err)
	}
	ra.wrote()
	return nil
}

// newRequestAudit starts the entry of a signed-in caller's request.
func (a *app) newRequestAudit(r *http.Request, action, uid, appCheck string) *requestAudit {
	id := a.newAuditID()
	requestID := traceID(r)
	if requestID == "" {
		requestID = id
	}
	annotate(r.Context(), slog.String("requestId", requestID))
	return &requestAudit{entry: store.Audit{
		ID: id, Action: action, UID: uid, Role: auditRoleNone,
		RequestID: requestID, AppCheck: appCheck, IP: callerIP(r),
	}}
}

// callerIP is the caller's address: the first X-Forwarded-For hop, which
// Google's front end sets to the client it saw, else the peer address.
func callerIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		first, _, _ := strings.Cut(xff, ",")
		if ip := strings.TrimSpace(first); ip != "" {
			return capLog(ip, maxLoggedID)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return capLog(r.RemoteAddr, maxLoggedID)
	}
	return host
}
