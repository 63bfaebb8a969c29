package functions

import (
	"context"
	"errors"
	"net/http"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// The one place where errors become answers: callErrorOf for the
// callables (docs/callables.md), webhookErrorOf for hmssWebhook (docs/webhook.md). Below
// these, packages speak their own errors (hms's, store's); nothing above
// the store knows Firestore's gRPC codes.

// callErrorOf maps any error a callable handler returns to the status the
// app should act on: the one table of docs/callables.md. A *callError is kept as is.
func callErrorOf(err error) *callError {
	var ce *callError
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, hms.ErrUnavailable):
		return fail(statusUnavailable, reasonVideoUnavailable, "The video service is unavailable; try again in a moment.", err)
	case errors.Is(err, hms.ErrRefused):
		return fail(statusInternal, reasonVideoRefused, "The video service refused the request; the backend's 100ms settings need attention.", err)
	case errors.Is(err, store.ErrConflict):
		return fail(statusInternal, reasonRoomTaken, "The video service returned a room that belongs to another appointment; contact support.", err)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return fail(statusUnavailable, reasonStoreUnavailable, "The appointment store is unavailable; try again.", err)
	default:
		return fail(statusInternal, reasonInternal, "Something went wrong on our side; try again later or contact support.", err)
	}
}

// webhookErrorOf maps an error of storing a webhook event to the answer
// 100ms acts on: 400 for an event no delivery could ever store (a retry
// would be in vain), 503 for everything else, so that 100ms delivers it
// again (the write is idempotent). An event whose changes alone cannot be
// written is not an error: the store keeps it raw and the answer is 200.
func webhookErrorOf(err error, eventID string) (int, webhookAnswer) {
	switch {
	case errors.Is(err, store.ErrUnstorableEvent):
		return http.StatusBadRequest, webhookAnswer{Status: "refused", EventID: capLog(eventID, maxLoggedID), Error: err.Error()}
	default:
		return http.StatusServiceUnavailable, webhookAnswer{Status: "retry", EventID: capLog(eventID, maxLoggedID), Error: "storage unavailable"}
	}
}
