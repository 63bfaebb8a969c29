package fake100ms

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
)

func TestRoomRecordingWithTranscript(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	f.SetWebhook(sink.URL, http.Header{"X-Webhook-Secret": {"hook-secret"}})
	room := f.AddRoom(Room{Name: "appt-rec-1", TemplateID: "tpl-1", Enabled: true})
	params := hms.RoomRecordingParams{Transcription: true, Summary: true}
	if _, err := c.StartRoomRecording(t.Context(), room.ID, params); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("start with nobody in the room: %v, want ErrNotActive", err)
	}
	sid := f.JoinPeer(room.ID, Peer{ID: "doc", UserID: "doctor", Role: "host"})

	before := time.Now().UTC()
	rec, err := c.StartRoomRecording(t.Context(), room.ID, params)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID == "" || rec.Status != "starting" {
		t.Errorf("recording = %+v", rec)
	}
	if _, err := c.StartRoomRecording(t.Context(), room.ID, params); !errors.Is(err, hms.ErrAlreadyRecording) || !errors.Is(err, hms.ErrRefused) {
		t.Errorf("second start: %v, want ErrAlreadyRecording", err)
	}
	starts := f.RecordingStarts()
	if len(starts) != 1 || starts[0].ID != rec.ID || starts[0].RoomID != room.ID || starts[0].SessionID != sid ||
		starts[0].BeamID == "" || starts[0].BeamID == rec.ID || starts[0].At.Before(before) {
		t.Fatalf("starts = %+v", starts)
	}
	tr, _ := starts[0].Body["transcription"].(map[string]any)
	sum, _ := tr["summary"].(map[string]any)
	if tr["enabled"] != true || !slices.Equal(anyStrings(tr["output_modes"]), []string{"txt", "srt", "json"}) || sum["enabled"] != true {
		t.Errorf("start body = %v", starts[0].Body)
	}

	if err := c.StopRoomRecording(t.Context(), room.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.StopRoomRecording(t.Context(), room.ID); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("second stop: %v, want ErrNotActive", err)
	}
	stops := f.RecordingStops()
	if len(stops) != 1 || stops[0].ID != rec.ID || stops[0].SessionID != sid || stops[0].Reason != "client request" || len(stops[0].Assets) != 5 {
		t.Fatalf("stops = %+v", stops)
	}

	evs := sinkEvents(t, f, sink)
	want := []string{"beam.started.success", "beam.stopped.success", "beam.recording.success",
		"transcription.started.success", "transcription.success"}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("webhooks = %v, want %v", got, want)
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		ids[ev.ID] = true
		if ev.RoomID != room.ID || ev.SessionID != sid || ev.Version != "2.0" || ev.TemplateID != "tpl-1" {
			t.Errorf("%s: envelope %+v", ev.Type, ev)
		}
	}
	if len(ids) != len(evs) {
		t.Errorf("event ids repeat: %v", ids)
	}

	started := evs[0].Data.(*hms.BeamStarted)
	if started.BeamID != starts[0].BeamID || started.JobID != starts[0].JobID || !started.Records() || started.MaxWidth.Ptr() == nil {
		t.Errorf("beam started = %+v", started)
	}
	eqKeys(t, evs[0], []string{"rtmp"}, []string{"state_name", "state_timestamp"})
	stopped := evs[1].Data.(*hms.BeamStopped)
	if stopped.BeamID != started.BeamID || stopped.Reason != "client request" || stopped.Duration == nil || *stopped.Duration < 1 {
		t.Errorf("beam stopped = %+v", stopped)
	}
	eqKeys(t, evs[1], []string{"rtmp"}, []string{"state_name", "state_timestamp"})
	recorded := evs[2].Data.(*hms.BeamRecording)
	if recorded.BeamID != started.BeamID || recorded.RecordingID != rec.ID || recorded.Path() == "" || recorded.DownloadURL() == "" ||
		recorded.Size.Ptr() == nil || *recorded.Size.Ptr() <= 0 || recorded.Duration == nil || recorded.StoppedAt.IsZero() {
		t.Errorf("beam recording = %+v", recorded)
	}
	// The fake records no chat and streams nowhere.
	eqKeys(t, evs[2], []string{"rtmp", "chat_recording_path", "chat_recording_presigned_url"}, nil)
	trStarted := evs[3].Data.(*hms.TranscriptionStarted)
	done := evs[4].Data.(*hms.Transcription)
	if trStarted.RecordingID != rec.ID || done.RecordingID != rec.ID || done.TranscriptionID == "" ||
		trStarted.TranscriptionID != done.TranscriptionID || trStarted.SummaryJSONAssetID != done.SummaryJSONAssetID {
		t.Errorf("transcription = %+v then %+v", trStarted, done)
	}
	eqKeys(t, evs[3], nil, nil)
	eqKeys(t, evs[4], nil, nil)

	// Every file of the events is an asset of the session whose presigned
	// URL works.
	assets, err := c.ListRecordingAssets(t.Context(), room.ID, sid)
	if err != nil || len(assets) != 5 {
		t.Fatalf("assets = %+v, %v", assets, err)
	}
	byID := map[string]hms.RecordingAsset{}
	for _, a := range assets {
		byID[a.ID] = a
		if a.JobID != rec.ID || a.Status != "completed" {
			t.Errorf("asset %+v", a)
		}
	}
	files := map[string]*hms.TranscriptAsset{"transcript": done.TranscriptTxt(), "srt": done.TranscriptSrt(),
		"json": done.TranscriptJSON(), "summary": done.SummaryJSON()}
	for name, file := range files {
		if file == nil || byID[file.AssetID].Path != file.Path || file.PresignedURL == "" {
			t.Errorf("%s: %+v, asset %+v", name, file, byID[file.AssetID])
		}
	}
	if byID[done.SummaryJSONAssetID].Type != "summary" || byID[done.TranscriptSrtAssetID].Type != "transcript" ||
		string(byID[done.TranscriptSrtAssetID].Metadata) != `{"output_mode":"srt"}` {
		t.Errorf("transcript assets = %+v", byID)
	}
	var video hms.RecordingAsset
	for _, a := range assets {
		if a.Type == "room-composite" {
			video = a
		}
	}
	if video.Path != recorded.RecordingPath || video.Size != *recorded.Size.Ptr() || video.SessionID != sid || video.ID != stops[0].Assets[0] {
		t.Errorf("composite asset %+v, event %+v", video, recorded)
	}
	for _, id := range stops[0].Assets {
		if _, err := c.PresignURL(t.Context(), id, time.Hour); err != nil {
			t.Errorf("presign %s: %v", id, err)
		}
	}
	if n := f.Calls("POST /recordings/room/{id}/start"); n != 3 {
		t.Errorf("start calls = %d, want 3", n)
	}
}

func anyStrings(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestRoomRecordingWithoutTranscriptAndEndRoom: no transcription object,
// no transcription events; end-room stops the recording as 100ms's
// internal stop does, and a later start needs a new session.
func TestRoomRecordingWithoutTranscriptAndEndRoom(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	f.SetWebhook(sink.URL, nil)
	room := f.AddRoom(Room{Name: "appt-rec-2", Enabled: true})
	f.JoinPeer(room.ID, Peer{UserID: "doctor", Role: "host"})
	rec, err := c.StartRoomRecording(t.Context(), room.ID, hms.RoomRecordingParams{Summary: true})
	if err != nil {
		t.Fatal(err)
	}
	if body := f.RecordingStarts()[0].Body; len(body) != 0 {
		t.Errorf("body = %v, want none", body)
	}
	if err := c.EndRoom(t.Context(), room.ID, "visit over", false); err != nil {
		t.Fatal(err)
	}
	evs := sinkEvents(t, f, sink)
	if got := types(evs); !slices.Equal(got, []string{"beam.started.success", "beam.stopped.success", "beam.recording.success"}) {
		t.Fatalf("webhooks = %v", got)
	}
	if d := evs[1].Data.(*hms.BeamStopped); d.Reason != "client request" {
		t.Errorf("reason = %q", d.Reason)
	}
	if stops := f.RecordingStops(); len(stops) != 1 || stops[0].ID != rec.ID || len(stops[0].Assets) != 1 {
		t.Errorf("stops = %+v", stops)
	}
	if err := c.StopRoomRecording(t.Context(), room.ID); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("stop after end: %v, want ErrNotActive", err)
	}
	if _, err := c.StartRoomRecording(t.Context(), room.ID, hms.RoomRecordingParams{}); !errors.Is(err, hms.ErrNotActive) {
		t.Errorf("start after end: %v, want ErrNotActive", err)
	}
	// A new session records again, with a new recording.
	f.JoinPeer(room.ID, Peer{UserID: "doctor", Role: "host"})
	again, err := c.StartRoomRecording(t.Context(), room.ID, hms.RoomRecordingParams{})
	if err != nil || again.ID == rec.ID {
		t.Errorf("start in a new session: %+v, %v", again, err)
	}
}

func TestRoomRecordingWithoutWebhook(t *testing.T) {
	f, c := start(t)
	room := f.AddRoom(Room{Name: "appt-rec-3"})
	f.JoinPeer(room.ID, Peer{UserID: "doctor", Role: "host"})
	if _, err := c.StartRoomRecording(t.Context(), room.ID, hms.RoomRecordingParams{Transcription: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.StopRoomRecording(t.Context(), room.ID); err != nil {
		t.Fatal(err)
	}
	// Nothing to send, nothing to wait for; the assets are there anyway
	// (3 transcripts, no summary).
	if err := f.WaitWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}
	if stops := f.RecordingStops(); len(stops) != 1 || len(stops[0].Assets) != 4 {
		t.Errorf("stops = %+v", stops)
	}
}

func TestStartRecordingBadInput(t *testing.T) {
	f, _ := start(t)
	room := f.AddRoom(Room{Name: "appt-rec-4"})
	f.JoinPeer(room.ID, Peer{UserID: "doctor", Role: "host"})
	for _, body := range []string{
		"[]", "not json",
		`{"transcription":true}`,
		`{"transcription":{"enabled":"yes"}}`,
		`{"transcription":{"enabled":true,"output_modes":["pdf"]}}`,
		`{"transcription":{"enabled":true,"summary":{"enabled":1}}}`,
		`{"resolution":{"width":0,"height":720}}`,
	} {
		if status, _ := raw(t, f, "POST", "/recordings/room/"+room.ID+"/start", body); status != 400 {
			t.Errorf("body %s: %d, want 400", body, status)
		}
	}
	if n := len(f.RecordingStarts()); n != 0 {
		t.Errorf("%d started by bad requests", n)
	}
	// Only the modes asked; the answer is the page's recording object.
	status, got := raw(t, f, "POST", "/recordings/room/"+room.ID+"/start",
		`{"meeting_url":"https://m.example/x","transcription":{"enabled":true,"output_modes":["txt"]}}`)
	if status != 200 || got["status"] != "starting" || got["started_at"] != nil || got["meeting_url"] != "https://m.example/x" ||
		!slices.Equal(anyStrings(got["asset_types"]), []string{"room-composite", "transcript"}) {
		t.Errorf("start: %d %v", status, got)
	}
	status, got = raw(t, f, "POST", "/recordings/room/"+room.ID+"/stop", "")
	data, _ := got["data"].([]any)
	if status != 200 || len(data) != 1 || data[0].(map[string]any)["status"] != "stopping" {
		t.Errorf("stop: %d %v", status, got)
	}
	if stops := f.RecordingStops(); len(stops) != 1 || len(stops[0].Assets) != 2 {
		t.Errorf("stops = %+v", stops)
	}
}

// TestWebhookRetriesAndHistory: a webhook refused is retried on 100ms's
// schedule (shortened here), then listed as failed, and can be replayed.
func TestWebhookRetriesAndHistory(t *testing.T) {
	f, c := start(t)
	sink := newSink(t)
	sink.refuse = "role.change.success"
	f.SetWebhook(sink.URL, nil)
	f.SetWebhookRetryDelays(time.Millisecond, 2*time.Millisecond)
	f.SetReplayInterval(time.Millisecond)
	room := f.AddRoom(Room{Name: "appt-5"})
	f.JoinPeer(room.ID, Peer{ID: "p1", UserID: "client", Role: "waiting-room"})
	if err := c.SetPeerRole(t.Context(), room.ID, "p1", "guest"); err != nil {
		t.Fatal(err)
	}
	evs := sinkEvents(t, f, sink)
	if len(evs) != 3 || evs[0].ID != evs[1].ID || evs[1].ID != evs[2].ID {
		t.Fatalf("deliveries = %v, want the one event tried 3 times", types(evs))
	}
	failed, err := c.FailedWebhooks(t.Context(), time.Time{}, time.Time{})
	if err != nil || len(failed) != 1 || failed[0].EventID != evs[0].ID || failed[0].OriginalEventName != "role.change.success" ||
		failed[0].RoomID != room.ID || !strings.Contains(failed[0].ErrorReason, "500") {
		t.Fatalf("failed = %+v, %v", failed, err)
	}
	sink.mu.Lock()
	sink.refuse = ""
	sink.mu.Unlock()
	if _, err := c.ReplayWebhooks(t.Context(), time.Now().Add(-time.Hour), time.Time{}, room.ID, "failed"); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitReplays(t.Context()); err != nil {
		t.Fatal(err)
	}
	if evs := sinkEvents(t, f, sink); len(evs) != 4 || !evs[3].Replay || evs[3].ID != evs[0].ID {
		t.Errorf("after replay: %d deliveries, last %+v", len(evs), evs[len(evs)-1])
	}
	if n := f.FailedDeliveries(); n != 0 {
		t.Errorf("failed deliveries = %d after the replay", n)
	}
}
