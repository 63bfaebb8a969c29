package store

import (
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
)

// TestEveryEventKindHasAPlan: every kind hms decodes (hms.EventTypes, its
// one table of kinds) changes the call when its payload names what it
// needs, so that a kind added to hms without a plan here is caught, not
// stored raw in silence. Planted bug caught: a case dropped from plan's
// switch (the kind's plan is empty).
func TestEveryEventKindHasAPlan(t *testing.T) {
	s := newStore(t, "demo-plans")
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for _, typ := range hms.EventTypes() {
		data := map[string]any{
			"session_id": "s1", "peer_id": "p1", "user_id": "u1", "role": "guest", "beam_id": "b1",
			"recording_id": "r1", "track_id": "t1", "transcription_id": "tr1", "error_message": "e",
			// A beam or HLS failure is a recording's failure only when
			// its job was recording.
			"recording_enabled": true, "recording_single_file_per_layer_enabled": true,
		}
		ev, err := hms.ParseEvent(event("ev-"+string(typ), string(typ), at, "room-p", data))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		p := s.plan(ev, "appt-p")
		if p.refused != "" || p.read == nil && len(p.merges) == 0 && len(p.creates) == 0 {
			t.Errorf("%s has no plan: %+v", typ, p)
		}
	}
}
