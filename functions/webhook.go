package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// maxWebhookBody keeps the raw event, stored as is, well inside
// Firestore's 1 MiB document limit.
const maxWebhookBody = 512 << 10

type webhookAnswer struct {
	Status  string `json:"status"`
	EventID string `json:"eventId,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (a *app) webhookHandler() http.HandlerFunc {
	return logRequest(a.logger, "hmssWebhook", a.projectID, func(w http.ResponseWriter, r *http.Request, rl *requestLog) {
		code, answer := a.receiveEvent(r.Context(), w, r, rl)
		writeJSON(w, code, answer)
	})
}

// The webhook's refusals before anything is stored, which webhookErrorOf
// turns into answers; the checks below return them and nothing else.
var (
	errWebhookMethod     = errors.New("method must be POST")
	errWebhookSecret     = errors.New("missing or wrong webhook secret")
	errWebhookTooLarge   = fmt.Errorf("body is larger than %d bytes", maxWebhookBody)
	errWebhookUnreadable = errors.New("body could not be read")
	errWebhookSignature  = errors.New("missing or wrong webhook signature")
)

// receiveEvent checks, in this order and before anything is parsed or
// stored: method, secret header (when configured), size, signature (when
// configured); then it parses and stores the event in one atomic write,
// and only then answers 200 (docs/webhook.md). Every refusal is answered
// by webhookErrorOf; what it learns goes on rl, the request's log line.
func (a *app) receiveEvent(ctx context.Context, w http.ResponseWriter, r *http.Request, rl *requestLog) (int, webhookAnswer) {
	raw, err := a.verifiedBody(w, r)
	if errors.Is(err, errWebhookMethod) {
		w.Header().Set("Allow", http.MethodPost)
	}
	if err != nil {
		rl.noteError(err)
		return webhookErrorOf(err, "")
	}
	ev, err := hms.ParseEvent(raw)
	if err != nil {
		rl.noteError(err)
		return webhookErrorOf(err, "")
	}
	rl.annotate(slog.String("eventId", capLog(ev.ID, maxLoggedID)), slog.String("eventType", capLog(string(ev.Type), maxLoggedID)),
		slog.String("roomId", capLog(ev.RoomID, maxLoggedID)), slog.String("sessionId", capLog(ev.SessionID, maxLoggedID)))
	if len(ev.DataProblems) > 0 {
		rl.annotate(slog.Any("dataProblems", ev.DataProblems))
	}

	st, err := a.firestore(ctx)
	if err != nil {
		rl.noteError(err)
		return webhookErrorOf(err, ev.ID)
	}
	// A write's deadline (deadlines.go) leaves time to answer 503 before
	// 100ms gives up on the delivery, so that it retries.
	wctx, cancel := writeDeadline(ctx)
	res, err := st.ApplyEventWith(wctx, ev, raw, a.closeRecord(ev))
	cancel()
	if err != nil {
		rl.noteError(err)
		return webhookErrorOf(err, ev.ID)
	}
	if res.AppointmentID != "" {
		rl.annotate(slog.String("appointmentId", capLog(res.AppointmentID, maxLoggedID)))
	}
	if res.NotApplied != "" {
		// 200 all the same: no delivery of this event could ever be
		// applied, and a 503 would only have 100ms retry, then drop it.
		// Its raw copy is stored (applied: false) for whoever fixes it.
		rl.annotate(slog.Bool("applied", false), slog.String("notApplied", res.NotApplied))
		rl.noteSevere()
	}
	switch {
	case res.Reconciled:
		rl.annotate(slog.String("reconcile", "done"))
	case res.ReconcileError != "":
		// The close is stored; its session stays due for hmsSweep.
		rl.annotate(slog.String("reconcile", "failed"), slog.String("reconcileError", capLog(res.ReconcileError, maxLoggedError)))
	}
	// A removed user's join this delivery claimed: disconnected at 100ms,
	// after the event is stored; never fails the delivery.
	a.enforceRemovals(ctx, ev, res, rl)
	// The notifications it claimed: sent, and their outcome recorded.
	if len(res.Notify) > 0 {
		requestID := traceID(r)
		if requestID == "" {
			requestID = store.NewAuditID()
		}
		rl.annotate(slog.String("requestId", requestID))
		a.sendNotifications(ctx, st, requestID, res.Notify, rl)
	}
	if res.Duplicate {
		rl.annotate(slog.Bool("duplicate", true))
		return http.StatusOK, webhookAnswer{Status: "duplicate", EventID: ev.ID}
	}
	return http.StatusOK, webhookAnswer{Status: "stored", EventID: ev.ID}
}

// verifiedBody is the raw body of a delivery that passed the checks that
// come before parsing, in their order, or the first check's sentinel (or
// the settings' error): the only place that decides whether a delivery is
// authentic, as livekit's webhook.Receive does.
func (a *app) verifiedBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost {
		return nil, errWebhookMethod
	}
	if err := a.webhookSettingsErr; err != nil {
		return nil, err
	}
	// The answer never names the header: a prober learns nothing of the
	// configuration from it.
	if a.cfg.webhookSecrets.Len() > 0 && !a.cfg.webhookSecrets.Match(r.Header.Get(a.cfg.webhookHeader)) {
		return nil, errWebhookSecret
	}
	if r.ContentLength > maxWebhookBody {
		return nil, errWebhookTooLarge
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errWebhookTooLarge
		}
		return nil, fmt.Errorf("%w: %v", errWebhookUnreadable, err)
	}
	if len(a.cfg.signingSecrets) > 0 && !hms.ValidSignature(raw, r.Header.Get(hms.SignatureHeader), a.cfg.signingSecrets) {
		return nil, errWebhookSignature
	}
	return raw, nil
}

// closeRecord is how a close's delivery asks 100ms for its record of the
// session's peers, which the store merges in the close's own commit
// (store.ApplyEventWith; docs/webhook.md, "Reconciliation"), within
// reconcileTimeout: the answer waits for it, since Cloud Functions may
// freeze the CPU once the answer is sent. Nil for any other event. When
// the settings make no 100ms client, the ask fails with why, and the
// session stays due.
func (a *app) closeRecord(ev *hms.Event) store.SessionRecord {
	if ev.Type != hms.SessionCloseSuccess || ev.SessionID == "" {
		return nil
	}
	client, err := a.hmsClient()
	if err != nil {
		return func(context.Context) ([]store.PeerRecord, error) { return nil, err }
	}
	record := sessionRecord(client, ev.RoomID, ev.SessionID)
	return func(ctx context.Context) ([]store.PeerRecord, error) {
		ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
		defer cancel()
		return record(ctx)
	}
}
