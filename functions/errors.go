package functions

import (
	"context"
	"errors"
	"net/http"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// The one place where errors become answers: callErrorOf for the
// callables (docs/callables.md), webhookErrorOf for hmssWebhook and
// sweepErrorOf for hmsSweep (docs/webhook.md). Below
// these, packages speak their own errors (hms's, store's); nothing above
// the store knows Firestore's gRPC codes.

// callErrorOf maps any error a callable handler returns to the status the
// app should act on: the one table of docs/callables.md. A *callError is
// kept as is. A store failure no retry can fix (store.IsPermanent: a
// stored document of the wrong shape, a write Firestore refuses as
// invalid) is INTERNAL, so that the app does not retry in vain and the
// request's log line is at ERROR, also when the write carried the
// request's audit entry; a transient one is UNAVAILABLE, and a write that
// carried the entry (errNotRecorded) says that nothing was done.
func callErrorOf(err error) *callError {
	var ce *callError
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, errVideoMisconfigured):
		return fail(statusInternal, reasonMisconfigured, "The video service is not configured.", err)
	case errors.Is(err, errBucketMisconfigured):
		return fail(statusInternal, reasonMisconfigured, "The recording bucket is not configured.", err)
	case errors.Is(err, bucket.ErrSign):
		return fail(statusInternal, reasonCannotSign, "Links to recordings cannot be signed: the functions' service account needs roles/iam.serviceAccountTokenCreator on itself.", err)
	case errors.Is(err, hms.ErrUnavailable):
		return fail(statusUnavailable, reasonVideoUnavailable, "The video service is unavailable; try again in a moment.", err)
	case errors.Is(err, hms.ErrRefused):
		return fail(statusInternal, reasonVideoRefused, "The video service refused the request; the backend's 100ms settings need attention.", err)
	case errors.Is(err, store.ErrConflict):
		return fail(statusInternal, reasonRoomTaken, "The video service returned a room that belongs to another appointment; contact support.", err)
	case store.IsPermanent(err):
		return fail(statusInternal, reasonStoreRefused, "The appointment's stored records cannot take this request as they are, and trying again will not help; contact support.", err)
	case errors.Is(err, errNotRecorded):
		return fail(statusUnavailable, reasonAuditUnavailable, "The request could not be recorded, so it was not carried out; try again.", err)
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return fail(statusUnavailable, reasonStoreUnavailable, "The appointment store is unavailable; try again.", err)
	default:
		return fail(statusInternal, reasonInternal, "Something went wrong on our side; try again later or contact support.", err)
	}
}

// webhookErrorOf maps every refusal of hmssWebhook to the answer 100ms
// acts on, the one table of docs/webhook.md: the checks before parsing
// (405, 500 for settings, 401, 413, 400), a malformed event and one no
// delivery could ever store (400: a retry would be in vain), and everything
// else 503, so that 100ms delivers it again (the write is idempotent). An
// event whose changes alone cannot be written is not an error: the store
// keeps it raw and the answer is 200.
func webhookErrorOf(err error, eventID string) (int, webhookAnswer) {
	refused := func(code int, msg string) (int, webhookAnswer) {
		return code, webhookAnswer{Status: "refused", EventID: capLog(eventID, maxLoggedID), Error: msg}
	}
	var settings *settingsError
	switch {
	case errors.Is(err, errWebhookMethod):
		return refused(http.StatusMethodNotAllowed, errWebhookMethod.Error())
	case errors.As(err, &settings):
		return http.StatusInternalServerError, webhookAnswer{Status: "misconfigured", Error: settings.Error()}
	case errors.Is(err, errWebhookSecret):
		return refused(http.StatusUnauthorized, errWebhookSecret.Error())
	case errors.Is(err, errWebhookSignature):
		return refused(http.StatusUnauthorized, errWebhookSignature.Error())
	case errors.Is(err, errWebhookTooLarge):
		return refused(http.StatusRequestEntityTooLarge, errWebhookTooLarge.Error())
	case errors.Is(err, errWebhookUnreadable):
		return refused(http.StatusBadRequest, errWebhookUnreadable.Error())
	case errors.Is(err, hms.ErrMalformedEvent), errors.Is(err, store.ErrUnstorableEvent):
		return refused(http.StatusBadRequest, err.Error())
	default:
		return http.StatusServiceUnavailable, webhookAnswer{Status: "retry", EventID: capLog(eventID, maxLoggedID), Error: "storage unavailable"}
	}
}

// errSweepMethod refuses anything but Cloud Scheduler's POST.
var errSweepMethod = errors.New("hmsSweep takes POST")

// sweepErrorOf maps what stops an hmsSweep run to its answer: 405 for
// another method, 500 for settings, and 503 with what the run did see
// (sum) when it could look at nothing, so that the scheduler's log shows
// the failed run; the next run starts over.
func sweepErrorOf(err error, sum sweepSummary) (int, map[string]any) {
	var settings *settingsError
	switch {
	case errors.Is(err, errSweepMethod):
		return http.StatusMethodNotAllowed, map[string]any{"error": errSweepMethod.Error()}
	case errors.As(err, &settings):
		return http.StatusInternalServerError, map[string]any{"error": "misconfigured: " + settings.Error()}
	default:
		return http.StatusServiceUnavailable, map[string]any{"error": "sweep failed; see the log", "summary": sum}
	}
}
