package functions

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestE2EWebhookCurrentSamples sends every sample of 100ms's current
// webhook documentation (hms/testdata/current) through the real webhook,
// for the room hmsToken made, and checks what docs/data-model.md puts where for
// today's keys and new kinds. store's TestApplyCurrentSamples checks the
// same documents field by field, in several orders.
func TestE2EWebhookCurrentSamples(t *testing.T) {
	e := setupE2E(t)
	doctor, client := e.signUp(t, "cur-doctor"), e.signUp(t, "cur-client")
	apptID := "current-" + uuid.NewString()[:8]
	e.seedAppointment(t, apptID, map[string]any{"doctorId": doctor.uid, "clientId": client.uid})
	code, ans := e.callToken(t, doctor.idToken, apptID)
	if code != http.StatusOK {
		t.Fatalf("hmsToken: %d %+v", code, ans.Error)
	}
	roomID := ans.Result["roomId"].(string)

	files, err := filepath.Glob("../hms/testdata/current/*.json")
	if err != nil || len(files) < 30 {
		t.Fatalf("%d samples: %v", len(files), err)
	}
	suffix := uuid.NewString()[:8] // ids of our own: the samples' are shared with other tests
	sent := 0
	for _, f := range files {
		if strings.Contains(f, "doc-example") {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		ev["id"] = ev["id"].(string) + "-" + suffix
		ev["data"].(map[string]any)["room_id"] = roomID
		body, _ := json.Marshal(ev)
		if got := e.postEvent(t, e2eWebhookSecret, body); got.code != http.StatusOK || !strings.Contains(string(got.body), `"stored"`) {
			t.Fatalf("%s: %d %s", filepath.Base(f), got.code, got.body)
		}
		sent++
	}

	tree := e.callTree(t, apptID)
	const session = "6564a0b1c2ad2e4f1e0d5e02"
	sess := tree["sessions/"+session]
	if sess["durationSec"] != int64(600) || !sess["endedAt"].(time.Time).Equal(time.Date(2021, 11, 30, 12, 58, 49, 972912000, time.UTC)) {
		t.Errorf("session: durationSec %v endedAt %v; want session_duration and session_stopped_at", sess["durationSec"], sess["endedAt"])
	}
	sfu := tree["recordings/sfu-"+session]
	if sfu["url"] != "https://<file-access-url>?<signature>" || sfu["location"] != "s3://<file-bucket-address>.mp4" || sfu["status"] != "success" {
		t.Errorf("sfu recording: %v; want recording_presigned_url and recording_path", sfu)
	}
	hls := tree["recordings/hls-6564a0c0c2ad2e4f1e0d0a16"]
	if layers, _ := hls["layers"].([]any); len(layers) != 4 || layers[0].(map[string]any)["assetId"] != "646acb659348ac0ada47d9ef" {
		t.Errorf("hls recording layers: %v", hls["layers"])
	}
	for _, id := range []string{"track-6564a0d0c2ad2e4f1e0dec03", "stream-6564a0d0c2ad2e4f1e0dec04", "stream-6564a0d0c2ad2e4f1e0dec05"} {
		if tree["recordings/"+id] == nil {
			t.Errorf("no recordings/%s", id)
		}
	}
	tx := tree["transcripts/6564a0e0c2ad2e4f1e0d7a01"]
	if tx["status"] != "success" || tx["summaryJson"] == nil {
		t.Errorf("transcript: %v", tx)
	}
	kinds := map[string]bool{}
	for k, v := range tree {
		if strings.HasPrefix(k, "failures/") {
			kinds[v["kind"].(string)] = true
		}
	}
	for _, k := range []string{"join", "leave", "room-end", "role-change"} {
		if !kinds[k] {
			t.Errorf("no %s failure: %v", k, kinds)
		}
	}
	if sent < 30 {
		t.Errorf("%d samples sent", sent)
	}
}
