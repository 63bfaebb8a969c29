package functions

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/fake100ms"
)

// TestE2ERecordingURL: hmsRecordingUrl for host and guest (an SFU
// recording without an asset id, looked up among several assets by path
// and remembered; a transcript file with one), stranger, no such
// recording or file, bad input, and 100ms down. Planted bugs caught: a
// lookup that takes the first asset of the session (the chat file's link
// comes back: "picked asset"), not remembering the id (a second list call),
// and a participant check left out (stranger row).
func TestE2ERecordingURL(t *testing.T) {
	h := newHMSEnv(t, defaultSweepLimits)
	appt, doctor, client, stranger := h.consultation(t)
	roomID := h.room(t, appt, doctor)
	ctx := context.Background()
	call := h.e.fs.Collection("calls").Doc(appt)
	// The chat file sorts first among the session's assets on purpose.
	chatID := h.fake.AddAsset(fake100ms.Asset{ID: "asset-0-chat", RoomID: roomID, SessionID: "s1", Type: "chat", Path: "s3://bucket/s1/chat.csv"})
	videoID := h.fake.AddAsset(fake100ms.Asset{ID: "asset-1-video", RoomID: roomID, SessionID: "s1", Type: "room-composite", Path: "s3://bucket/s1/video.mp4"})
	txtID := h.fake.AddAsset(fake100ms.Asset{ID: "asset-2-txt", RoomID: roomID, SessionID: "s1", Type: "transcript", Path: "s3://bucket/s1/t.txt"})
	h.fake.AddAsset(fake100ms.Asset{ID: "asset-3-other", RoomID: roomID, SessionID: "s2", Type: "room-composite", Path: "s3://bucket/s2/video.mp4"})
	if _, err := call.Collection("recordings").Doc("sfu-s1").Set(ctx, map[string]any{
		"kind": "sfu", "status": "success", "sessionId": "s1", "location": "s3://bucket/s1/video.mp4",
		"url": "https://expired.example/old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := call.Collection("transcripts").Doc("tr1").Set(ctx, map[string]any{
		"status": "success", "sessionId": "s1",
		"transcriptTxt": map[string]any{"assetId": txtID, "location": "s3://bucket/s1/t.txt"}}); err != nil {
		t.Fatal(err)
	}
	url := func(u e2eUser, data map[string]any) (httpAnswer, callableAnswer) {
		data["appointmentId"] = appt
		return h.call(t, "hmsRecordingUrl", u, data)
	}
	wantLink := func(name string, ans httpAnswer, out callableAnswer, assetID string) string {
		t.Helper()
		link, _ := out.Result["url"].(string)
		exp, err := time.Parse(time.RFC3339, stringOf(out.Result["expiresAt"]))
		if ans.code != http.StatusOK || !strings.Contains(link, "/signed/"+assetID+"?") || err != nil || !exp.After(time.Now()) {
			t.Errorf("%s: %d %s; want a fresh link to %s", name, ans.code, ans.body, assetID)
		}
		return link
	}

	ans, out := url(client, map[string]any{"recordingId": "sfu-s1"})
	first := wantLink("guest, SFU recording (picked asset)", ans, out, videoID)
	if id := stringOf(h.e.doc(t, "calls/"+appt+"/recordings/sfu-s1")["assetId"]); id != videoID {
		t.Errorf("asset id remembered: %q; want %s", id, videoID)
	}
	lists := h.fake.Calls("GET /recording-assets")
	ans, out = url(doctor, map[string]any{"recordingId": "sfu-s1"})
	if second := wantLink("host, SFU recording again", ans, out, videoID); second == first {
		t.Error("the same link twice: not fresh")
	}
	if n := h.fake.Calls("GET /recording-assets"); n != lists {
		t.Errorf("%d more asset lists for a remembered id", n-lists)
	}
	ans, out = url(client, map[string]any{"transcriptId": "tr1"})
	wantLink("guest, transcript (default file)", ans, out, txtID)
	_ = chatID

	for _, c := range []struct {
		name   string
		user   e2eUser
		data   map[string]any
		code   int
		status string
		reason string
	}{
		{"stranger", stranger, map[string]any{"recordingId": "sfu-s1"}, 403, "PERMISSION_DENIED", reasonNotParticipant},
		{"no such recording", client, map[string]any{"recordingId": "sfu-nope"}, 404, "NOT_FOUND", reasonNoSuchRecording},
		{"no such transcript", client, map[string]any{"transcriptId": "tr-nope"}, 404, "NOT_FOUND", reasonNoSuchRecording},
		{"transcript file absent", client, map[string]any{"transcriptId": "tr1", "file": "summaryJson"}, 404, "NOT_FOUND", reasonNoSuchRecording},
		{"bad file", client, map[string]any{"transcriptId": "tr1", "file": "../x"}, 400, "INVALID_ARGUMENT", reasonBadFile},
		{"neither id", client, map[string]any{}, 400, "INVALID_ARGUMENT", reasonNoRecordingID},
		{"both ids", client, map[string]any{"recordingId": "sfu-s1", "transcriptId": "tr1"}, 400, "INVALID_ARGUMENT", reasonNoRecordingID},
	} {
		ans, out := url(c.user, c.data)
		wantReason(t, c.name, ans, out, c.code, c.status, c.reason)
	}

	h.fake.SetDown(true)
	ans, out = url(client, map[string]any{"recordingId": "sfu-s1"})
	h.fake.SetDown(false)
	wantReason(t, "100ms down", ans, out, 503, "UNAVAILABLE", reasonVideoUnavailable)
	if strings.Contains(h.e.logs.String(), "/signed/") {
		t.Error("a presigned link reached the log")
	}
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}
