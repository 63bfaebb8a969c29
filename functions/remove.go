package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// removeRequest is hmsRemove's "data" (docs/visit.md, "Removing someone").
type removeRequest struct {
	AppointmentID string `json:"appointmentId"`
	UID           string `json:"uid"`
	Action        string `json:"action"`
}

// hmsRemove's actions; each is also the request's audit action.
const (
	removeActionRemove = "remove"
	removeActionWait   = "wait"
	removeActionAllow  = "allow"
)

// removeReason is what 100ms is told when a peer is removed (it reaches
// the removed app in its peer-removed notification); it names no one.
const removeReason = "removed by the doctor"

func (r *removeRequest) appointment() string { return r.AppointmentID }

// check refuses an unknown action with the callable's own fields, before
// the appointment is read (the one order, docs/callables.md), and names
// the request's audit action after its action, so that the trail tells a
// removal from an allow; an unknown action's entry stays "remove".
func (r *removeRequest) check(rq *request) *callError {
	switch r.Action {
	case removeActionRemove, removeActionWait, removeActionAllow:
		rq.audit.action(r.Action)
		return nil
	}
	return fail(statusInvalidArgument, reasonBadAction, `"action" must be "remove", "wait" or "allow".`, nil)
}

func (a *app) removeHandler() http.HandlerFunc {
	return a.callable("hmsRemove", removeActionRemove, a.cfg.check("hmsRemove"), onAppointment(a, a.remove))
}

// remove, after onAppointment's opening (which checked the action): the
// caller must be the doctor → the user must be the client or a guest →
// for wait, a waiting room must be set up → the change recorded (with the
// audit entry) → 100ms asked for the user's peers, each disconnected
// (remove) or moved to the waiting role (wait). The change is recorded
// first, so that hmsToken refuses (or sends to the waiting room) from then
// on, the webhook enforces a later join, and a retry after 100ms failed
// finishes the work.
func (a *app) remove(ctx, reads context.Context, o opened, req *removeRequest) (any, error) {
	st, appt, uid := o.st, o.appt, o.uid
	if o.who != partDoctor {
		return nil, fail(statusPermissionDenied, reasonHostOnly, "Only the doctor can remove someone from the call.", nil)
	}
	target := strings.TrimSpace(req.UID)
	if p, ok := partOf(appt, target); !ok || p == partDoctor {
		return nil, fail(statusInvalidArgument, reasonNotRemovable, `"uid" must be the appointment's client or one of its guests.`, nil)
	}
	if req.Action == removeActionWait && !a.cfg.waitingRole.Valid() {
		return nil, fail(statusFailedPrecondition, reasonNoWaitingRoom, "This service has no waiting room: nobody can be sent back to it.", nil)
	}
	o.audit.detail("uid", target)
	g, err := o.grant()
	if err != nil {
		return nil, err
	}
	if req.Action == removeActionAllow {
		// Nothing at 100ms: the user asks for a token again.
		err = g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
			return st.AllowBack(ctx, appt.ID, target, entry)
		})
		if err != nil {
			return nil, err
		}
		return map[string]any{"allowed": target}, nil
	}
	client, err := a.hmsClient()
	if err != nil {
		return nil, err
	}
	err = g.write(ctx, func(ctx context.Context, entry *store.Audit) error {
		if req.Action == removeActionWait {
			return st.RecordWait(ctx, appt.ID, target, entry)
		}
		return st.RecordRemoval(ctx, appt.ID, target, uid, a.now(), entry)
	})
	if err != nil {
		return nil, err
	}

	n := 0
	if room, recorded, err := st.RecordedRoom(reads, appt); err != nil {
		return nil, err
	} else if recorded {
		if req.Action == removeActionWait {
			n, err = a.movePeers(ctx, client, room.ID, target, a.cfg.waitingRole.String())
		} else {
			n, err = a.disconnectPeers(ctx, client, room.ID, target)
		}
		if err != nil {
			return nil, err
		}
	}
	if req.Action == removeActionWait {
		return map[string]any{"waiting": target, "moved": n}, nil
	}
	return map[string]any{"removed": target, "disconnected": n}, nil
}

// userPeers asks 100ms which of uid's peers are in the room now, rather
// than trusting webhook state that may lag; no session is no peer.
func userPeers(ctx context.Context, client *hms.Client, roomID, uid string) ([]hms.ActivePeer, error) {
	hmsCtx, cancel := hmsDeadline(ctx)
	defer cancel()
	peers, err := client.ActivePeers(hmsCtx, roomID, uid)
	if errors.Is(err, hms.ErrNotActive) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("list peers of %s in room %s: %w", uid, roomID, err)
	}
	return peers, nil
}

// disconnectPeers removes each of uid's peers from the room
// (active-rooms--remove-peers.md). A peer gone meanwhile is not counted.
func (a *app) disconnectPeers(ctx context.Context, client *hms.Client, roomID, uid string) (int, error) {
	peers, err := userPeers(ctx, client, roomID, uid)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range peers {
		if p.UserID != uid {
			continue
		}
		hmsCtx, cancel := hmsDeadline(ctx)
		err := client.RemovePeer(hmsCtx, roomID, p.ID, removeReason)
		cancel()
		switch {
		case errors.Is(err, hms.ErrNotFound), errors.Is(err, hms.ErrNotActive):
			continue // left meanwhile
		case err != nil:
			return n, fmt.Errorf("disconnect a peer of %s in room %s: %w", uid, roomID, err)
		}
		n++
	}
	return n, nil
}

// movePeers moves each of uid's peers not in role to it
// (active-rooms--update-a-peer.md). A peer gone meanwhile is not counted.
func (a *app) movePeers(ctx context.Context, client *hms.Client, roomID, uid, role string) (int, error) {
	peers, err := userPeers(ctx, client, roomID, uid)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range peers {
		if p.UserID != uid || p.Role == role {
			continue
		}
		hmsCtx, cancel := hmsDeadline(ctx)
		err := client.SetPeerRole(hmsCtx, roomID, p.ID, role)
		cancel()
		switch {
		case errors.Is(err, hms.ErrNotFound), errors.Is(err, hms.ErrNotActive):
			continue
		case err != nil:
			return n, fmt.Errorf("move a peer of %s in room %s: %w", uid, roomID, err)
		}
		n++
	}
	return n, nil
}

// enforceRemovals asks 100ms to remove each peer of a removed user whose
// join this delivery claimed (store.ApplyResult.Enforce: once per peer
// id); the claim's commit wrote the system entry remove.enforce. A token
// minted before the removal stays valid at 100ms until it expires, so this
// is what keeps the user out. It never fails the delivery, whose event is
// stored: a failure is logged at ERROR (the claim is spent; the doctor's
// hmsRemove disconnects the peer again). It has enforceTimeout in all, and
// goes on when 100ms hangs up: the event is stored and the claim spent.
func (a *app) enforceRemovals(ctx context.Context, ev *hms.Event, res store.ApplyResult, rl *requestLog) {
	if len(res.Enforce) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enforceTimeout)
	defer cancel()
	client, cerr := a.hmsClient()
	for _, rp := range res.Enforce {
		err := cerr
		if err == nil {
			err = client.RemovePeer(ctx, ev.RoomID, rp.PeerID, removeReason)
			if errors.Is(err, hms.ErrNotFound) || errors.Is(err, hms.ErrNotActive) {
				err = nil // left already
			}
		}
		if err != nil {
			rl.annotate(slog.String("enforce", "failed"), slog.String("enforceError", capLog(err.Error(), maxLoggedError)))
			rl.noteSevere()
			continue
		}
		rl.annotate(slog.String("enforce", "done"))
	}
}
