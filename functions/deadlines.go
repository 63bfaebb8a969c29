package functions

import (
	"context"
	"time"
)

// Every deadline a request sets on what it waits for, one rule each
// (docs/callables.md, "Deadlines"). The function's own timeout bounds the
// request; these make a dependency that does not answer a retryable
// UNAVAILABLE (a 503 for the webhook) well inside it, and the webhook's and
// the sweep's own bounds below follow from whom they answer.
const (
	// defaultAuthTimeout bounds each token check on its own: the ID
	// token's (signature, then revocation, which runs beside the handler's
	// reads) and App Check's (app.authTimeout, which a test shortens).
	defaultAuthTimeout = 8 * time.Second
	// firestoreReadTimeout bounds all the Firestore reads of one request
	// together, from its first (the appointment): a Firestore that does not
	// answer costs the caller one deadline, not one per read.
	firestoreReadTimeout = 8 * time.Second
	// firestoreWriteTimeout bounds each Firestore write on its own (a
	// commit, or a transaction with the reads it makes), and the write
	// goes on when the caller goes away: it records a decision already
	// made (the audit entry, what 100ms was asked to do), which must not
	// be lost to a hang-up.
	firestoreWriteTimeout = 8 * time.Second
	// hmsTimeout bounds each request to 100ms (the hms client's retries of
	// 5xx and 429 inside it), in the callables and the sweep alike.
	hmsTimeout = 10 * time.Second
	// reconcileTimeout bounds the webhook's reconciliation of a closed
	// session, 100ms's record and its write together: it runs before the
	// answer (Cloud Functions may freeze the CPU once the answer is sent),
	// and 100ms gives up on a delivery after about 14 s of retries.
	reconcileTimeout = 3 * time.Second
	// enforceTimeout bounds the webhook's enforcement of a removal
	// (100ms's remove-peers), for the same reason: it runs before the
	// answer. A delivery 100ms retries
	// after a slow answer is a duplicate and enforces nothing again.
	enforceTimeout = 3 * time.Second
	// notifyTimeout bounds the webhook's push notifications (the devices'
	// read, FCM's sends, the outcome's write), for the same reason; a
	// delivery retried after a slow answer is a duplicate and sends
	// nothing again.
	notifyTimeout = 5 * time.Second
)

// authDeadline is the context of one token check.
func (a *app) authDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.authTimeout)
}

// readDeadline is the context of a request's Firestore reads.
func readDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, firestoreReadTimeout)
}

// writeDeadline is the context of one Firestore write: its own deadline,
// not cut short by the caller's cancellation.
func writeDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), firestoreWriteTimeout)
}

// hmsDeadline is the context of one request to 100ms.
func hmsDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, hmsTimeout)
}
