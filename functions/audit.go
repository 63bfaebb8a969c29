package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/telemed/videocalls/store"
)

// The audit trail (docs/security.md, "The audit trail"): every callable
// request of a signed-in user that names an appointment leaves exactly one
// entry, granted or refused, written before the answer. The entry is the
// request's own (request.audit); a handler gets the granted entry only
// from request.grant, after the caller's sign-in holds, and hands it to
// its first write (grant.write) or writes it alone before it acts on 100ms
// (grant.writeAlone). serveCallable writes whatever is left once the
// handler is done: a refusal, or a grant with no write of its own. When
// the entry cannot be written, nothing is granted: errNotRecorded.

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

// errNotRecorded wraps the failure of a write that carried an audit entry:
// the entry is not in the trail, so nothing was granted (callErrorOf
// answers it UNAVAILABLE, or INTERNAL when no retry can write it).
var errNotRecorded = errors.New("the audit entry was not written")

func notRecorded(err error) error { return fmt.Errorf("%w: %w", errNotRecorded, err) }

// requestAudit is the entry of one callable request, filled in as the
// handler learns what is asked and who asks it.
type requestAudit struct {
	mu      sync.Mutex
	entry   store.Audit
	named   bool // the request named an appointment: it is audited
	written bool
}

func (ra *requestAudit) update(f func(e *store.Audit)) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	f(&ra.entry)
}

// appointment marks the request as audited: it names appointment id.
func (ra *requestAudit) appointment(id string) {
	ra.update(func(e *store.Audit) { e.AppointmentID = id })
	ra.mu.Lock()
	ra.named = true
	ra.mu.Unlock()
}

func (ra *requestAudit) role(role string)     { ra.update(func(e *store.Audit) { e.Role = role }) }
func (ra *requestAudit) room(id string)       { ra.update(func(e *store.Audit) { e.RoomID = id }) }
func (ra *requestAudit) action(action string) { ra.update(func(e *store.Audit) { e.Action = action }) }

// requestID is the request's id in the trail, for the entries of the
// system actions it sets off.
func (ra *requestAudit) requestID() string {
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

// unwritten is the entry as it stands, unless it is written already or the
// request is not audited.
func (ra *requestAudit) unwritten() (store.Audit, bool) {
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if !ra.named || ra.written {
		return store.Audit{}, false
	}
	e := ra.entry
	e.Details = copyDetails(ra.entry.Details)
	return e, true
}

func (ra *requestAudit) wrote() {
	ra.mu.Lock()
	ra.written = true
	ra.mu.Unlock()
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

// grant is a request's leave to act, once its caller's sign-in holds
// (request.grant): it hands the granted entry to the write that records
// it. A system action the request sets off has a grant of its own
// (grant.system), with its own entry.
type grant struct {
	ra          *requestAudit // the request's entry; nil for a system action
	systemEntry *store.Audit  // the system action's entry
}

// write runs f with the granted entry, to be created in the same commit
// as f's own changes (nil when there is none to write: the request is not
// audited, or its entry is written already), within a write's deadline
// (deadlines.go), and marks the entry written when f succeeds. When f
// carried an entry and failed, the failure is errNotRecorded.
func (g *grant) write(ctx context.Context, f func(ctx context.Context, entry *store.Audit) error) error {
	entry := g.systemEntry
	if g.ra != nil {
		if e, ok := g.ra.unwritten(); ok {
			e.Outcome, e.Reason = store.AuditGranted, ""
			entry = &e
		}
	}
	wctx, cancel := writeDeadline(ctx)
	defer cancel()
	err := f(wctx, entry)
	switch {
	case err != nil && entry != nil:
		return notRecorded(err)
	case err != nil:
		return err
	}
	if g.ra != nil && entry != nil {
		g.ra.wrote()
	}
	return nil
}

// writeAlone writes the granted entry on its own, before the handler acts
// on 100ms (ending a room, moving a peer, re-enabling a room), so that no
// such action goes unrecorded.
func (g *grant) writeAlone(ctx context.Context, st *store.Store) error {
	return g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		if entry == nil {
			return nil
		}
		return st.WriteAudit(ctx, entry)
	})
}

// system is the grant of a system action this request sets off (a
// withdrawn consent stopping a recording): entry, with the request's id.
func (g *grant) system(entry store.Audit) *grant {
	if g.ra != nil {
		entry.RequestID = g.ra.requestID()
	}
	return &grant{systemEntry: &entry}
}

// finishAudit writes the entry of a request its handler did not write: a
// refusal (refusal), or a grant with no write of its own (a token for a
// room already recorded). It runs past a caller that went away: an
// abandoned request is still recorded. A failure is errNotRecorded.
func (a *app) finishAudit(ctx context.Context, ra *requestAudit, refusal *callError) error {
	if refusal != nil && refusal.reason == reasonStoreUnavailable {
		// Firestore did not answer the request's own read: the entry
		// cannot be written either, and trying would hold the answer
		// another deadline. Nothing was granted; the answer is already
		// UNAVAILABLE.
		return nil
	}
	e, ok := ra.unwritten()
	if !ok {
		return nil
	}
	if e.Role == "" {
		e.Role = auditRoleNone
	}
	e.Outcome = store.AuditGranted
	if refusal != nil {
		e.Outcome, e.Reason, e.Details = store.AuditRefused, refusal.reason, nil
	}
	wctx, cancel := writeDeadline(ctx)
	defer cancel()
	st, err := a.firestore(wctx)
	if err == nil {
		err = st.WriteAudit(wctx, &e)
	}
	if err != nil {
		return notRecorded(err)
	}
	ra.wrote()
	return nil
}

// newRequestAudit starts the entry of a signed-in caller's request, and
// puts its request id on the request's log line.
func (a *app) newRequestAudit(r *http.Request, log *requestLog, action, uid, appCheck string) *requestAudit {
	id := a.newAuditID()
	requestID := traceID(r)
	if requestID == "" {
		requestID = id
	}
	log.annotate(slog.String("requestId", requestID))
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
