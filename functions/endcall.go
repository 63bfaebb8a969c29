package functions

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/telemed/videocalls/hms"
)

// endCallRequest is hmsEndCall's "data" (docs/callables.md, hmsEndCall).
type endCallRequest struct {
	AppointmentID string `json:"appointmentId"`
	Lock          bool   `json:"lock"`
}

func (r *endCallRequest) appointment() string       { return r.AppointmentID }
func (r *endCallRequest) check(*request) *callError { return nil }

// endCallReason is what 100ms shows the peers it removes.
const endCallReason = "The doctor ended the consultation."

func (a *app) endCallHandler() http.HandlerFunc {
	return a.callable("hmsEndCall", "endCall", a.cfg.check("hmsEndCall"), onAppointment(a, a.endCall))
}

// endCall, after onAppointment's opening: the caller must be the doctor →
// the call must have a room → 100ms ends its session (and locks the room if
// asked) → endedBy.
func (a *app) endCall(ctx, reads context.Context, o opened, req *endCallRequest) (any, error) {
	st, appt, uid := o.st, o.appt, o.uid
	if o.who != partDoctor {
		return nil, fail(statusPermissionDenied, reasonHostOnly, "Only the doctor can end the call for everyone.", nil)
	}
	room, recorded, err := st.RecordedRoom(reads, appt)
	switch {
	case err != nil:
		return nil, err
	case !recorded:
		return nil, notLive(nil)
	}
	o.audit.room(room.ID)
	o.audit.detail("lock", req.Lock)
	g, err := o.grant()
	if err != nil {
		return nil, err
	}
	o.log.annotate(slog.String("roomId", capLog(room.ID, maxLoggedID)), slog.Bool("lock", req.Lock))
	client, err := a.hmsClient()
	if err != nil {
		return nil, err
	}
	// Recorded before 100ms is asked: an end nobody could audit is not made.
	if err := g.writeAlone(ctx, st); err != nil {
		return nil, err
	}
	hmsCtx, cancelHMS := hmsDeadline(ctx)
	defer cancelHMS()
	if err := client.EndRoom(hmsCtx, room.ID, endCallReason, req.Lock); err != nil {
		if errors.Is(err, hms.ErrNotActive) {
			return nil, notLive(err)
		}
		return nil, err
	}
	// 100ms has ended the room: a failure to record it is still worth a
	// retry (UNAVAILABLE), whose end-room then answers NOT_LIVE.
	// Past a client that went away (writeDeadline): the room is ended
	// now, and a lock not recorded would never be lifted by hmsToken.
	wctx, cancelWrite := writeDeadline(ctx)
	defer cancelWrite()
	if err := st.RecordEndedBy(wctx, appt.ID, uid, hms.RoleHost.String(), req.Lock, a.now()); err != nil {
		return nil, err
	}
	return map[string]any{"ended": true}, nil
}

func notLive(cause error) *callError {
	return fail(statusFailedPrecondition, reasonNotLive, "The call is not live: nobody is in it.", cause)
}
