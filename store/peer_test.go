package store

import (
	"fmt"
	"testing"
	"time"
)

// TestPeerMergeRules pins the peer rules of docs/data-model.md that a mutation run
// (issue 15) showed no other test would catch, each in both orders of its
// events: the earliest joinedAt wins, whichever event carries it (flip
// earlier() in peerFact.merge to later() and this fails); role_changed_at
// orders role changes, not the envelope timestamp (use norm(ev.Timestamp)
// in roleChangeKey and this fails); a leave's duration beats leftAt −
// joinedAt.
func TestPeerMergeRules(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	rfc := func(d time.Duration) string { return at.Add(d).Format(time.RFC3339Nano) }
	join := func(id string) []byte {
		return event(id, "peer.join.success", at.Add(10*time.Second), "room-pr", map[string]any{
			"session_id": "s1", "peer_id": "p1", "role": "viewer", "user_id": "u1", "joined_at": rfc(5 * time.Second)})
	}
	leave := func(id string) []byte {
		return event(id, "peer.leave.success", at.Add(time.Hour), "room-pr", map[string]any{
			"session_id": "s1", "peer_id": "p1", "user_id": "u1", "joined_at": rfc(2 * time.Second),
			"left_at": rfc(time.Hour), "duration": 3000})
	}
	// Promoted at +1 min, demoted back at +2 min; the demotion's envelope
	// is stamped earlier than the promotion's.
	promote := func(id string) []byte {
		return event(id, "role.change.success", at.Add(5*time.Minute), "room-pr", map[string]any{
			"session_id": "s1", "peer_id": "p1", "role": "host", "role_changed_at": rfc(time.Minute)})
	}
	demote := func(id string) []byte {
		return event(id, "role.change.success", at.Add(3*time.Minute), "room-pr", map[string]any{
			"session_id": "s1", "peer_id": "p1", "role": "guest", "role_changed_at": rfc(2 * time.Minute)})
	}
	orders := [][]func(string) []byte{
		{join, leave, promote, demote},
		{leave, join, demote, promote},
		{demote, promote, leave, join},
		{promote, leave, demote, join},
	}
	for i, order := range orders {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			project := fmt.Sprintf("demo-peer-rules-%d", i)
			s := newStore(t, project)
			seed(t, s, "appt-pr", "room-pr")
			for j, ev := range order {
				apply(t, s, ev(fmt.Sprintf("ev-%d", j)))
			}
			p := mapAt(mapAt(dump(t, s, "appt-pr")[colSessions].(map[string]any), "s1"), "peers", "p1")
			if got, want := p["joinedAt"], at.Add(2*time.Second); got != want {
				t.Errorf("joinedAt = %v, want the leave's earlier %v", got, want)
			}
			if p["role"] != "guest" {
				t.Errorf("role = %v, want guest (the latest role_changed_at)", p["role"])
			}
			if p["durationSec"] != int64(3000) {
				t.Errorf("durationSec = %v, want the leave's 3000", p["durationSec"])
			}
		})
	}
}
