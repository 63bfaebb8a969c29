package functions

import (
	"context"
	"errors"
	"fmt"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// reconcileOutcome is what reconciling a closed session came to
// (docs/webhook.md, "Reconciliation").
type reconcileOutcome int

const (
	// reconcileMerged: 100ms's record of the session's peers is merged.
	reconcileMerged reconcileOutcome = iota
	// reconcileUnknown: 100ms does not know the session, or it is another
	// room's; the session is marked reconciled with nothing added, as no
	// later ask would answer otherwise.
	reconcileUnknown
	// reconcileActive: 100ms says the session still goes on; nothing is
	// marked, and the next sweep asks again.
	reconcileActive
)

// reconcileSession asks 100ms for its record of a closed session and
// merges it into the call (store.ReconcileSession), or marks the session
// reconciled when 100ms does not know it. An error (100ms or Firestore
// unreachable) leaves the session due, for hmsSweep's next run.
func reconcileSession(ctx context.Context, st *store.Store, client *hms.Client, s store.DueSession) (reconcileOutcome, error) {
	sess, err := client.GetSession(ctx, s.SessionID)
	switch {
	case errors.Is(err, hms.ErrNotFound):
		return reconcileUnknown, st.ReconcileSession(ctx, s.AppointmentID, s.SessionID, nil)
	case err != nil:
		return 0, fmt.Errorf("get session %s: %w", s.SessionID, err)
	case s.RoomID != "" && sess.RoomID != s.RoomID:
		// A close may name another room's session id: that session's
		// participants must never be written into this call.
		return reconcileUnknown, st.ReconcileSession(ctx, s.AppointmentID, s.SessionID, nil)
	case sess.Active:
		return reconcileActive, nil
	}
	return reconcileMerged, st.ReconcileSession(ctx, s.AppointmentID, s.SessionID, peerRecords(sess))
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
