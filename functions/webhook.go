package functions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

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
	res, err := st.ApplyEvent(wctx, ev, raw)
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
	// Reconcile a close once per session and instance: also on a
	// redelivery that Firestore answered (the first delivery may have been
	// committed, then timed out before its answer, and never reconciled),
	// never on one this instance answered from memory (it reconciled then).
	if ev.Type == hms.SessionCloseSuccess && res.AppointmentID != "" && ev.SessionID != "" &&
		res.NotApplied == "" && !res.Remembered && a.reconciled.first(res.AppointmentID, ev.SessionID) {
		a.reconcile(ctx, rl, st, res.AppointmentID, ev.RoomID, ev.SessionID)
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

// reconcile fills in attendance that lost peer events left out, from 100ms's
// own record of the session. It runs after the event is durably stored and
// never fails the webhook: a miss here only leaves what events recorded,
// and rl's log line says why.
func (a *app) reconcile(ctx context.Context, rl *requestLog, st *store.Store, appointmentID, roomID, sessionID string) {
	ctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	err := func() error {
		client, err := a.hmsClient()
		if err != nil {
			return err
		}
		sess, err := client.GetSession(ctx, sessionID)
		if err != nil {
			return fmt.Errorf("get session %s: %w", sessionID, err)
		}
		// A close may name another room's session id: that session's
		// participants must never be written into this call.
		if sess.RoomID != roomID {
			return fmt.Errorf("session %s belongs to another room than the event's", sessionID)
		}
		return st.ReconcileSession(ctx, appointmentID, sessionID, peerRecords(sess))
	}()
	if err != nil {
		rl.annotate(slog.String("reconcile", "failed"), slog.String("reconcileError", capLog(err.Error(), maxLoggedError)))
		return
	}
	rl.annotate(slog.String("reconcile", "done"))
}

// peerRecords are a session's peers as 100ms recorded them, for the store's
// reconciliation.
func peerRecords(sess hms.Session) []store.PeerRecord {
	peers := make([]store.PeerRecord, 0, len(sess.Peers))
	for _, p := range sess.Peers {
		peers = append(peers, store.PeerRecord{
			PeerID: p.ID, UserID: p.UserID, UserName: p.Name, Role: p.Role,
			JoinedAt: p.JoinedAt, LeftAt: p.LeftAt,
		})
	}
	return peers
}

// onceSet remembers (appointment, session) pairs, to do something at most
// once per pair and instance. It forgets everything when full: forgetting
// costs one more call to 100ms for a session closed long ago.
type onceSet struct {
	mu   sync.Mutex
	seen map[[2]string]struct{}
}

// maxOnceSet bounds onceSet's memory: ids are at most 256 bytes (session)
// and 1,500 (appointment), so under 20 MiB at worst, about 1 MiB in practice.
const maxOnceSet = 10000

// first reports whether this is the first time the pair is seen.
func (o *onceSet) first(appt, session string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	key := [2]string{appt, session}
	if _, ok := o.seen[key]; ok {
		return false
	}
	if o.seen == nil || len(o.seen) >= maxOnceSet {
		o.seen = make(map[[2]string]struct{})
	}
	o.seen[key] = struct{}{}
	return true
}
