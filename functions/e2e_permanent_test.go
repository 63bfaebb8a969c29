package functions

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestE2EPermanentStoreFailures: a failure that no retry can fix is
// answered INTERNAL (STORE_REFUSED) and logged at ERROR, never UNAVAILABLE,
// which would have the app retry in vain: a write Firestore refuses as
// invalid (hmsConsent on a call document already at the 1 MiB limit, so
// that the consent and its audit entry are refused together) and a stored
// document of the wrong shape (a room record whose appointmentId is not a
// string, for hmsEndCall and hmsToken). The refused consent leaves its
// refused entry in the trail, as every refusal does. Planted bug caught:
// callErrorOf answering store.IsPermanent UNAVAILABLE (every case).
func TestE2EPermanentStoreFailures(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("write refused as invalid", func(t *testing.T) {
		appt, _, client, _ := h.consultation(t)
		fillToLimit(ctx, t, h, "calls/"+appt)
		ans, out := h.call(t, "hmsConsent", client, map[string]any{"appointmentId": appt, "recording": true})
		wantReason(t, "consent on a full call document", ans, out, http.StatusInternalServerError, "INTERNAL", reasonStoreRefused)
		h.wantLoggedAtError(t, "hmsConsent", appt)
		entries := h.auditEntries(t, client.uid)
		if len(entries) != 1 {
			t.Fatalf("%d audit entries for the client, want the one refusal: %v", len(entries), entries)
		}
		wantEntry(t, "refused consent", entries[0], map[string]any{"action": "consent", "outcome": "refused", "reason": reasonStoreRefused})
		if c := h.e.doc(t, "calls/"+appt); c["consent"] != nil {
			t.Errorf("the consent was recorded: %v", c["consent"])
		}
	})

	t.Run("malformed room record", func(t *testing.T) {
		appt, doctor, _, _ := h.consultation(t)
		// Never seen by the app's store, which remembers the rooms it
		// resolved: a record damaged after the fact, or written by hand.
		roomID := "room-bad-" + uuid.NewString()[:8]
		for path, data := range map[string]map[string]any{
			"calls/" + appt:      {"appointmentId": appt, "roomId": roomID, "status": "idle"},
			"hmsRooms/" + roomID: {"appointmentId": 42},
		} {
			if _, err := h.e.fs.Doc(path).Set(ctx, data); err != nil {
				t.Fatalf("seed %s: %v", path, err)
			}
		}
		for _, function := range []string{"hmsEndCall", "hmsToken"} {
			ans, out := h.call(t, function, doctor, map[string]any{"appointmentId": appt})
			wantReason(t, function+" with a malformed room record", ans, out, http.StatusInternalServerError, "INTERNAL", reasonStoreRefused)
			h.wantLoggedAtError(t, function, appt)
		}
	})
}

// fillToLimit writes a document at path whose one field brings it within
// a few dozen bytes of Firestore's 1 MiB limit, as the emulator counts it,
// so that any field added to it makes the write invalid.
func fillToLimit(ctx context.Context, t *testing.T, h *hmsEnv, path string) {
	t.Helper()
	for n := 1 << 20; n > 1<<20-4096; n -= 16 {
		_, err := h.e.fs.Doc(path).Set(ctx, map[string]any{"filler": strings.Repeat("x", n)})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("fill %s: %v", path, err)
		}
	}
	t.Fatalf("fill %s: no size under 1 MiB was accepted", path)
}

// wantLoggedAtError finds function's log line for appointment appt and
// requires it at ERROR.
func (h *hmsEnv) wantLoggedAtError(t *testing.T, function, appt string) {
	t.Helper()
	for _, line := range strings.Split(h.e.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["function"] != function || entry["appointmentId"] != appt {
			continue
		}
		if entry["severity"] != "ERROR" {
			t.Errorf("%s for %s logged at %v, want ERROR: %s", function, appt, entry["severity"], line)
		}
		return
	}
	t.Errorf("no log line of %s for %s", function, appt)
}
