package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// sweepLimits bound one hmsSweep run. The defaults keep a run well inside
// the function's 300 s timeout and the scheduler's 320 s deadline
// (scripts/deploy), whatever 100ms or Firestore do.
type sweepLimits struct {
	// budget bounds the whole run; what is not done by then waits for the
	// next run (every 10 minutes).
	budget time.Duration
	// hmsTimeout bounds each 100ms request.
	hmsTimeout time.Duration
	// maxCalls bounds the calls checked per run, least recently updated
	// first; workers is how many are checked at once.
	maxCalls, workers int
	// replayLag keeps the replay window's end this far in the past: 100ms
	// retries a delivery for about 14 s before it lists it as failed, so a
	// window ending now would miss the last failures for good.
	replayLag time.Duration
	// minReplayWindow: a shorter window is left for the next run, so that
	// two runs at once do not both ask for the same seconds (100ms's bounds
	// are whole seconds).
	minReplayWindow time.Duration
	// firstReplayWindow is how far back the very first run looks.
	firstReplayWindow time.Duration
}

var defaultSweepLimits = sweepLimits{
	budget:            60 * time.Second,
	hmsTimeout:        hmsTimeout,
	maxCalls:          1000,
	workers:           8,
	replayLag:         30 * time.Second,
	minReplayWindow:   10 * time.Second,
	firstReplayWindow: 24 * time.Hour,
}

// sweepSummary is hmsSweep's answer and log line.
type sweepSummary struct {
	// Checked: idle live calls asked about; Closed: sessions this run
	// closed (another run closing the same one at once does not count it
	// again); AlreadyClosed: 100ms says the session is over and its close
	// was made meanwhile (by its event, or another run), so this run wrote
	// nothing; StillLive: 100ms says their session goes on; Unknown: 100ms
	// does not know the session, or it belongs to another room.
	Checked       int `json:"checked"`
	Closed        int `json:"closed"`
	AlreadyClosed int `json:"alreadyClosed"`
	StillLive     int `json:"stillLive"`
	Unknown       int `json:"unknown"`
	// Reconciled: closed sessions whose reconciliation with 100ms's record
	// was due (it failed at the close) and is now made; ReconcileUnknown:
	// of those, 100ms does not know the session, which is then marked
	// done with nothing added; ReconcileTruncated: more were due than one
	// run takes.
	Reconciled         int  `json:"reconciled"`
	ReconcileUnknown   int  `json:"reconcileUnknown"`
	ReconcileTruncated bool `json:"reconcileTruncated"`
	// Errors: calls whose check failed (100ms or Firestore), tried again
	// next run; Truncated: more idle calls than one run checks.
	Errors    int  `json:"errors"`
	Truncated bool `json:"truncated"`
	// CallErrors says which calls failed and why (ids and errors only), the
	// first maxCallErrors of them, for the run's one log line.
	CallErrors []string `json:"callErrors,omitempty"`
	// Replay: the webhook window asked about (absent when there was none
	// to ask: too short since the last run), the failed deliveries listed
	// in it, and whether a replay was requested.
	ReplayFrom       string `json:"replayFrom,omitempty"`
	ReplayTo         string `json:"replayTo,omitempty"`
	FailedDeliveries int    `json:"failedDeliveries"` // of the first page: at most 100
	ReplaysRequested int    `json:"replaysRequested"`
	ReplayError      string `json:"replayError,omitempty"`
	// Retention (RECORDING_RETENTION_DAYS): RecordingsDeleted, the
	// recordings and transcripts whose files this run deleted and marked;
	// FilesDeleted, their files; Held, the appointments whose expired
	// files their legal hold kept; RetentionTruncated: more were due than
	// one run takes. Their failures count in Errors.
	RecordingsDeleted  int  `json:"recordingsDeleted"`
	FilesDeleted       int  `json:"filesDeleted"`
	Held               int  `json:"held"`
	RetentionTruncated bool `json:"retentionTruncated"`
	// TimedOut: the run's budget ended before all was done.
	TimedOut bool `json:"timedOut"`
}

// maxCallErrors bounds the failed calls a run names in its log line (docs/operations.md:
// one line per request).
const maxCallErrors = 20

func (a *app) sweepHandler() http.HandlerFunc { return a.sweepHandlerWith(defaultSweepLimits) }

// sweepHandlerWith serves hmsSweep (docs/webhook.md, hmsSweep). It is not a callable: Cloud
// Scheduler POSTs to it with an OIDC token that Cloud Run checks before the
// request gets here (the function is deployed without public access).
func (a *app) sweepHandlerWith(lim sweepLimits) http.HandlerFunc {
	settingsErr := a.cfg.check("hmsSweep")
	return logRequest(a.logger, "hmsSweep", a.projectID, func(w http.ResponseWriter, r *http.Request, rl *requestLog) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			code, body := sweepErrorOf(errSweepMethod, sweepSummary{})
			writeJSON(w, code, body)
			return
		}
		if settingsErr != nil {
			rl.noteError(settingsErr)
			code, body := sweepErrorOf(settingsErr, sweepSummary{})
			writeJSON(w, code, body)
			return
		}
		sum, err := a.sweep(r.Context(), lim)
		rl.annotate(slog.Int("checked", sum.Checked), slog.Int("closed", sum.Closed),
			slog.Int("alreadyClosed", sum.AlreadyClosed), slog.Int("reconciled", sum.Reconciled),
			slog.Int("reconcileUnknown", sum.ReconcileUnknown), slog.Bool("reconcileTruncated", sum.ReconcileTruncated),
			slog.Int("stillLive", sum.StillLive), slog.Int("unknown", sum.Unknown), slog.Int("errors", sum.Errors),
			slog.Bool("truncated", sum.Truncated), slog.Int("failedDeliveries", sum.FailedDeliveries),
			slog.Int("replaysRequested", sum.ReplaysRequested), slog.String("replayFrom", sum.ReplayFrom),
			slog.String("replayTo", sum.ReplayTo), slog.Int("recordingsDeleted", sum.RecordingsDeleted),
			slog.Int("filesDeleted", sum.FilesDeleted), slog.Int("held", sum.Held), slog.Bool("retentionTruncated", sum.RetentionTruncated),
			slog.Bool("timedOut", sum.TimedOut), slog.Any("callErrors", sum.CallErrors))
		if err != nil {
			// Nothing could be looked at: 503, so that the scheduler's log
			// shows the failed run; the next run starts over.
			rl.noteError(err)
			code, body := sweepErrorOf(err, sum)
			writeJSON(w, code, body)
			return
		}
		if sum.Errors > 0 || sum.ReplayError != "" || sum.TimedOut {
			rl.noteWarning()
			if sum.ReplayError != "" {
				rl.noteError(errors.New(sum.ReplayError))
			}
		}
		writeJSON(w, http.StatusOK, sum)
	})
}

// sweep runs the jobs of docs/webhook.md, hmsSweep, within lim.budget: idle
// live calls are checked with 100ms and closed when their session is over,
// then closed sessions whose reconciliation is still due are reconciled;
// beside both, failed webhook deliveries since the last run are replayed,
// and files past RECORDING_RETENTION_DAYS deleted (retention.go).
func (a *app) sweep(ctx context.Context, lim sweepLimits) (sweepSummary, error) {
	var sum sweepSummary
	st, err := a.firestore(ctx)
	if err != nil {
		return sum, err
	}
	client, err := a.hmsClient()
	if err != nil {
		return sum, err
	}
	ctx, cancel := context.WithTimeout(ctx, lim.budget)
	defer cancel()
	now := a.now()

	var wg sync.WaitGroup
	var replay, retention sweepSummary
	wg.Go(func() { replay = a.sweepReplay(ctx, st, client, lim, now) })
	wg.Go(func() { retention = a.sweepRetention(ctx, st, lim, now) })
	err = a.sweepCalls(ctx, st, client, lim, now, &sum)
	if err == nil {
		err = a.sweepReconciliations(ctx, st, client, lim, &sum)
	}
	wg.Wait()
	sum.ReplayFrom, sum.ReplayTo, sum.FailedDeliveries = replay.ReplayFrom, replay.ReplayTo, replay.FailedDeliveries
	sum.ReplaysRequested, sum.ReplayError = replay.ReplaysRequested, replay.ReplayError
	sum.RecordingsDeleted, sum.FilesDeleted, sum.Held = retention.RecordingsDeleted, retention.FilesDeleted, retention.Held
	sum.RetentionTruncated = retention.RetentionTruncated
	sum.Errors += retention.Errors
	for _, e := range retention.CallErrors {
		if len(sum.CallErrors) < maxCallErrors {
			sum.CallErrors = append(sum.CallErrors, e)
		}
	}
	sum.TimedOut = ctx.Err() != nil
	return sum, err
}

func (a *app) sweepCalls(ctx context.Context, st *store.Store, client *hms.Client, lim sweepLimits, now time.Time, sum *sweepSummary) error {
	calls, err := st.IdleLiveCalls(ctx, now.Add(-a.cfg.sweepIdle), lim.maxCalls+1)
	if err != nil {
		return fmt.Errorf("find idle live calls: %w", err)
	}
	if len(calls) > lim.maxCalls {
		calls, sum.Truncated = calls[:lim.maxCalls], true
	}
	var mu sync.Mutex
	eachAtOnce(ctx, lim.workers, calls, func(c store.IdleCall) {
		outcome, err := a.sweepCall(ctx, st, client, lim, c)
		mu.Lock()
		defer mu.Unlock()
		sum.Checked++
		switch {
		case err != nil:
			sum.callError(c.AppointmentID, err)
		case outcome == outcomeClosed:
			sum.Closed++
		case outcome == outcomeAlreadyClosed:
			sum.AlreadyClosed++
		case outcome == outcomeLive:
			sum.StillLive++
		default:
			sum.Unknown++
		}
	})
	return nil
}

// sweepReconciliations reconciles the closed sessions whose reconciliation
// failed at their close (100ms down, a timeout), ended calls included,
// until it succeeds or 100ms says it does not know the session (then it is
// marked done, and never asked about again).
func (a *app) sweepReconciliations(ctx context.Context, st *store.Store, client *hms.Client, lim sweepLimits, sum *sweepSummary) error {
	due, more, err := st.DueReconciliations(ctx, lim.maxCalls)
	if err != nil {
		return fmt.Errorf("find sessions to reconcile: %w", err)
	}
	sum.ReconcileTruncated = more
	var mu sync.Mutex
	eachAtOnce(ctx, lim.workers, due, func(d store.DueSession) {
		rctx, cancel := context.WithTimeout(ctx, lim.hmsTimeout+firestoreWriteTimeout)
		unknown, err := reconcileSession(rctx, st, client, d)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			sum.callError(d.AppointmentID, err)
		case unknown:
			sum.Reconciled++
			sum.ReconcileUnknown++
		default:
			sum.Reconciled++
		}
	})
	return nil
}

// callError counts a call whose check failed and names it, within bounds.
func (sum *sweepSummary) callError(appointmentID string, err error) {
	sum.Errors++
	if len(sum.CallErrors) < maxCallErrors {
		sum.CallErrors = append(sum.CallErrors, capLog(appointmentID, maxLoggedID)+": "+capLog(err.Error(), maxLoggedText))
	}
}

// eachAtOnce calls fn for each item, workers at a time, and stops handing
// out items when ctx ends (the rest waits for the next run).
func eachAtOnce[T any](ctx context.Context, workers int, items []T, fn func(T)) {
	work := make(chan T)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for it := range work {
				fn(it)
			}
		})
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

type sweepOutcome int

const (
	outcomeUnknown sweepOutcome = iota
	outcomeLive
	outcomeClosed
	outcomeAlreadyClosed
)

// sweepCall asks 100ms about one idle live call and closes its session
// when 100ms says it is over (docs/webhook.md, hmsSweep): endedAt is the latest left_at of
// its peers, else the session's updated_at. Should another session of the
// call be open by its documents too, it is checked the same way.
func (a *app) sweepCall(ctx context.Context, st *store.Store, client *hms.Client, lim sweepLimits, c store.IdleCall) (sweepOutcome, error) {
	outcome := outcomeUnknown
	sid := c.ActiveSessionID
	for range 5 {
		if c.RoomID == "" || sid == "" {
			return outcome, nil
		}
		sess, ended, live, err := endedSession(ctx, client, lim, c.RoomID, sid)
		switch {
		case err != nil:
			return outcome, err
		case live:
			return outcomeLive, nil
		case !ended:
			return outcome, nil // 100ms does not know it, or it is another room's
		}
		endedAt := sessionEnd(sess)
		if endedAt.IsZero() {
			return outcome, nil
		}
		res, err := st.CloseSession(ctx, c.AppointmentID, c.RoomID, sid, endedAt, &store.Audit{
			Action: "sweep.close", Outcome: store.AuditGranted, UID: store.SystemUID, Role: store.SystemUID,
			AppointmentID: c.AppointmentID, RoomID: c.RoomID, RequestID: a.newAuditID(),
			Details: map[string]any{"sessionId": sid, "endedAt": endedAt},
		})
		if err != nil {
			return outcome, err
		}
		if res.Closed {
			outcome = outcomeClosed
		} else if outcome == outcomeUnknown {
			outcome = outcomeAlreadyClosed
		}
		rctx, cancel := context.WithTimeout(ctx, firestoreWriteTimeout)
		err = st.ReconcileSession(rctx, c.AppointmentID, sid, peerRecords(sess))
		cancel()
		if err != nil {
			return outcome, err
		}
		if res.Status != "live" || res.ActiveSessionID == "" || res.ActiveSessionID == sid {
			return outcome, nil
		}
		sid = res.ActiveSessionID
	}
	return outcome, nil
}

// endedSession asks 100ms about session sid of a room: ended, with the
// session, when it is over; live while it goes on; neither when 100ms does
// not know it or it is another room's (never close a call from another
// room's session).
func endedSession(ctx context.Context, client *hms.Client, lim sweepLimits, roomID, sid string) (sess hms.Session, ended, live bool, err error) {
	hctx, cancel := context.WithTimeout(ctx, lim.hmsTimeout)
	active, err := client.ActiveSessions(hctx, roomID)
	cancel()
	if err != nil {
		return hms.Session{}, false, false, err
	}
	for _, s := range active {
		if s.ID == sid {
			return hms.Session{}, false, true, nil
		}
	}
	hctx, cancel = context.WithTimeout(ctx, lim.hmsTimeout)
	sess, err = client.GetSession(hctx, sid)
	cancel()
	switch {
	case errors.Is(err, hms.ErrNotFound):
		return hms.Session{}, false, false, nil
	case err != nil:
		return hms.Session{}, false, false, err
	case sess.RoomID != roomID:
		return hms.Session{}, false, false, nil
	case sess.Active:
		return hms.Session{}, false, true, nil // it became active between the two requests
	}
	return sess, true, false, nil
}

// sessionEnd is when an ended session ended: its last peer's leave, else
// its last update (zero when 100ms gave neither).
func sessionEnd(sess hms.Session) time.Time {
	var end time.Time
	for _, p := range sess.Peers {
		if p.LeftAt.After(end) {
			end = p.LeftAt
		}
	}
	if end.IsZero() {
		end = sess.UpdatedAt
	}
	return end
}

// sweepReplay claims the webhook window since the last run (hmsSweep/state,
// in a transaction, so that two runs at once never ask for the same one),
// lists 100ms's failed deliveries in it and, when there are any, asks 100ms
// to replay them. A window whose requests failed is given back for the
// next run.
func (a *app) sweepReplay(ctx context.Context, st *store.Store, client *hms.Client, lim sweepLimits, now time.Time) (out sweepSummary) {
	// 100ms keeps 30 days; an hour's margin for clocks and the run itself.
	oldest := now.Add(-hms.WebhookHistory + time.Hour)
	w, ok, err := st.ClaimReplayWindow(ctx, now.Add(-lim.replayLag), oldest, lim.firstReplayWindow, lim.minReplayWindow, hms.WebhookMaxWindow)
	if err != nil {
		out.ReplayError = err.Error()
		return out
	}
	if !ok {
		return out
	}
	out.ReplayFrom, out.ReplayTo = w.Start.UTC().Format(time.RFC3339Nano), w.End.UTC().Format(time.RFC3339Nano)
	giveBack := func(cause error) {
		out.ReplayError = cause.Error()
		// The run's own context may be what ended: give the window back
		// within a few seconds of its own.
		rctx, cancel := writeDeadline(ctx)
		defer cancel()
		if released, err := st.ReleaseReplayWindow(rctx, w); err != nil || !released {
			out.ReplayError += fmt.Sprintf("; the window could not be given back for the next run (released=%t, %v): replay it by hand", released, err)
		}
	}
	// One page says whether a replay is needed: listing every failure of a
	// long outage (up to 50,000) could outlast the deadline on every run,
	// and the window would never be replayed.
	hctx, cancel := context.WithTimeout(ctx, lim.hmsTimeout)
	failed, _, err := client.FirstFailedWebhooks(hctx, w.Start, w.End, 100)
	cancel()
	if err != nil {
		giveBack(err)
		return out
	}
	out.FailedDeliveries = len(failed)
	if len(failed) == 0 {
		return out
	}
	hctx, cancel = context.WithTimeout(ctx, lim.hmsTimeout)
	_, err = client.ReplayWebhooks(hctx, w.Start, w.End, "", "failed")
	cancel()
	if err != nil {
		giveBack(err)
		return out
	}
	out.ReplaysRequested = 1
	return out
}
