package functions

// request is one callable request as its handler holds it, once
// serveCallable has checked the protocol and the caller's tokens: the
// caller's verified uid, the request's log line and audit entry, and the
// check that the sign-in was not revoked, still out while the handler
// reads (authenticate). What the request must do in order is in its
// values: what the handler learns goes to the entry and the log line; the
// grant, which waits for the sign-in, comes before anything that changes
// the world and is the only way to the entry a write records.
type request struct {
	uid      string
	log      *requestLog
	audit    *requestAudit
	signedIn func() *callError
}

// grant waits until the caller's sign-in is known to hold (not revoked,
// user not disabled) and returns the request's leave to act: the granted
// audit entry, for the first write that changes the world or to be
// written alone before 100ms is asked to act. A handler takes it before
// anything it does changes the world (a 100ms room, a Firestore write).
func (rq *request) grant() (*grant, error) {
	if cerr := rq.signedIn(); cerr != nil {
		return nil, cerr
	}
	return &grant{ra: rq.audit}, nil
}
