package functions

import (
	"context"
	"errors"
	"fmt"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/store"
)

// errSessionActive: 100ms says the session a close names still goes on;
// its reconciliation waits for a later ask.
var errSessionActive = errors.New("100ms says the session is still active")

// sessionRecord is 100ms's record of a session's peers, as the store's
// reconciliation takes it (docs/webhook.md, "Reconciliation"): the peers,
// store.ErrUnknownSession when 100ms does not know the session or it is
// another room's (never copy another room's participants into a call), or
// the error that leaves it due.
func sessionRecord(client *hms.Client, roomID, sessionID string) store.SessionRecord {
	return func(ctx context.Context) ([]store.PeerRecord, error) {
		sess, err := client.GetSession(ctx, sessionID)
		switch {
		case errors.Is(err, hms.ErrNotFound):
			return nil, store.ErrUnknownSession
		case err != nil:
			return nil, fmt.Errorf("get session %s: %w", sessionID, err)
		case sess.RoomID != roomID:
			return nil, store.ErrUnknownSession
		case sess.Active:
			return nil, errSessionActive
		}
		return peerRecords(sess), nil
	}
}

// reconcileSession is hmsSweep's reconciliation of a closed session whose
// reconciliation failed at its close: 100ms's record, then the store's
// merge. unknown: 100ms does not know the session, which is then marked
// reconciled with nothing added, as no later ask would answer otherwise.
// An error (100ms or Firestore unreachable, the session still active at
// 100ms) leaves the session due, for the next run.
func reconcileSession(ctx context.Context, st *store.Store, client *hms.Client, s store.DueSession) (unknown bool, err error) {
	peers, err := sessionRecord(client, s.RoomID, s.SessionID)(ctx)
	unknown = errors.Is(err, store.ErrUnknownSession)
	if err != nil && !unknown {
		return false, err
	}
	return unknown, st.ReconcileSession(ctx, s.AppointmentID, s.SessionID, peers)
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
