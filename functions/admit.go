package functions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// admitRequest is hmsAdmit's "data" (docs/visit.md, "The waiting room").
type admitRequest struct {
	AppointmentID string `json:"appointmentId"`
	UID           string `json:"uid"`
}

func (r *admitRequest) appointment() string       { return r.AppointmentID }
func (r *admitRequest) check(*request) *callError { return nil }

func (a *app) admitHandler() http.HandlerFunc {
	return a.callable("hmsAdmit", "admit", a.cfg.check("hmsAdmit"), onAppointment(a, a.admit))
}

// admit, after onAppointment's opening: the caller must be the doctor → a
// waiting room must be set up → the admitted user must be the client or a
// guest → the admission recorded (with the audit entry) → 100ms asked which
// of the user's peers wait, and each moved to guest. The admission is
// recorded first, so that a user who joins after it gets guest, and a retry
// after 100ms failed finishes the move.
func (a *app) admit(ctx, reads context.Context, o opened, req *admitRequest) (any, error) {
	st, appt, uid := o.st, o.appt, o.uid
	if o.who != partDoctor {
		return nil, fail(statusPermissionDenied, reasonHostOnly, "Only the doctor can admit someone from the waiting room.", nil)
	}
	if !a.cfg.waitingRole.Valid() {
		return nil, fail(statusFailedPrecondition, reasonNoWaitingRoom, "This service has no waiting room: everyone joins the call directly.", nil)
	}
	target := strings.TrimSpace(req.UID)
	if target == "" {
		target = appt.ClientID
	}
	if p, ok := partOf(appt, target); !ok || p == partDoctor {
		return nil, fail(statusInvalidArgument, reasonNotAdmittable, `"uid" must be the appointment's client or one of its guests.`, nil)
	}
	o.audit.detail("uid", target)
	g, err := o.grant()
	if err != nil {
		return nil, err
	}
	client, err := a.hmsClient()
	if err != nil {
		return nil, err
	}

	if !appt.Call.Admitted[target] {
		err = g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
			return st.RecordAdmission(ctx, appt.ID, target, uid, a.now(), entry)
		})
	} else {
		err = g.writeAlone(ctx, st) // admitted before: the entry alone, before 100ms moves anyone
	}
	if err != nil {
		return nil, err
	}

	moved := 0
	if room, recorded, err := st.RecordedRoom(reads, appt); err != nil {
		return nil, err
	} else if recorded {
		if moved, err = a.moveFromWaitingRoom(ctx, client, room.ID, target); err != nil {
			return nil, err
		}
	}
	return map[string]any{"admitted": target, "moved": moved}, nil
}

// moveFromWaitingRoom asks 100ms which of uid's peers are in the room
// now, rather than trusting webhook state that may lag, and moves each
// one in the waiting role to guest (active-rooms--list-peers.md,
// active-rooms--update-a-peer.md). No session, or a peer gone meanwhile,
// is nothing to move.
func (a *app) moveFromWaitingRoom(ctx context.Context, client *hms.Client, roomID, uid string) (int, error) {
	hmsCtx, cancel := hmsDeadline(ctx)
	peers, err := client.ActivePeers(hmsCtx, roomID, uid)
	cancel()
	if errors.Is(err, hms.ErrNotActive) {
		return 0, nil
	} else if err != nil {
		return 0, fmt.Errorf("list peers of %s in room %s: %w", uid, roomID, err)
	}
	moved := 0
	for _, p := range peers {
		if p.UserID != uid || p.Role != a.cfg.waitingRole.String() {
			continue
		}
		hmsCtx, cancel := hmsDeadline(ctx)
		err := client.SetPeerRole(hmsCtx, roomID, p.ID, hms.RoleGuest.String())
		cancel()
		switch {
		case errors.Is(err, hms.ErrNotFound), errors.Is(err, hms.ErrNotActive):
			continue // left meanwhile
		case err != nil:
			return moved, fmt.Errorf("move peer of %s in room %s: %w", uid, roomID, err)
		}
		moved++
	}
	return moved, nil
}
