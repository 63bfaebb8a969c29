package functions

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/telemed/videocalls/hms"
)

// endCallRequest is hmsEndCall's "data" (docs/callables.md, hmsEndCall).
type endCallRequest struct {
	AppointmentID string `json:"appointmentId"`
	Lock          bool   `json:"lock"`
}

func (r *endCallRequest) appointment() string              { return r.AppointmentID }
func (r *endCallRequest) check(context.Context) *callError { return nil }

// hmsTimeout bounds each 100ms call of a callable, so that a slow 100ms is
// a retryable UNAVAILABLE well inside the request's own deadline.
const hmsTimeout = 10 * time.Second

// endCallReason is what 100ms shows the peers it removes.
const endCallReason = "The doctor ended the consultation."

func (a *app) endCallHandler() http.HandlerFunc {
	return a.callable("hmsEndCall", "endCall", a.cfg.check("hmsEndCall"), onAppointment(a, a.endCall))
}

// endCall, after onAppointment's opening: the caller must be the doctor →
// the call must have a room → 100ms ends its session (and locks the room if
// asked) → endedBy.
func (a *app) endCall(ctx, fsCtx context.Context, o opened, req *endCallRequest) (any, error) {
	st, appt, uid := o.st, o.appt, o.uid
	if o.who != partDoctor {
		return nil, fail(statusPermissionDenied, reasonHostOnly, "Only the doctor can end the call for everyone.", nil)
	}
	room, recorded, err := st.RecordedRoom(fsCtx, appt)
	switch {
	case err != nil:
		return nil, err
	case !recorded:
		return nil, notLive(nil)
	}
	auditOf(ctx).room(room.ID)
	auditOf(ctx).detail("lock", req.Lock)
	if err := confirmSignIn(ctx); err != nil {
		return nil, err
	}
	annotate(ctx, slog.String("roomId", capLog(room.ID, maxLoggedID)), slog.Bool("lock", req.Lock))
	client, err := a.hmsClient()
	if err != nil {
		return nil, err
	}
	// Recorded before 100ms is asked: an end nobody could audit is not made.
	if err := writeGrant(ctx, st); err != nil {
		return nil, err
	}
	hmsCtx, cancelHMS := context.WithTimeout(ctx, hmsTimeout)
	defer cancelHMS()
	if err := client.EndRoom(hmsCtx, room.ID, endCallReason, req.Lock); err != nil {
		if errors.Is(err, hms.ErrNotActive) {
			return nil, notLive(err)
		}
		return nil, err
	}
	// 100ms has ended the room: a failure to record it is still worth a
	// retry (UNAVAILABLE), whose end-room then answers NOT_LIVE.
	// A deadline of its own, and past a client that went away: the room is
	// ended now, and a lock not recorded would never be lifted by hmsToken.
	wctx, cancelWrite := detachedWrite(ctx)
	defer cancelWrite()
	if err := st.RecordEndedBy(wctx, appt.ID, uid, hms.RoleHost.String(), req.Lock, a.now()); err != nil {
		return nil, err
	}
	return map[string]any{"ended": true}, nil
}

func notLive(cause error) *callError {
	return fail(statusFailedPrecondition, reasonNotLive, "The call is not live: nobody is in it.", cause)
}
