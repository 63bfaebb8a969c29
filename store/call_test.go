package store

import (
	"errors"
	"testing"
	"time"
)

// TestEndedByAndReenable: endedBy is recorded with its lock, the
// appointment read sees it, and ClearRoomLock clears it.
func TestEndedByAndReenable(t *testing.T) {
	s := newStore(t, "demo-call-endedby")
	seed(t, s, "appt-e", "room-e")
	ctx := ctxT(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if err := s.RecordEndedBy(ctx, "appt-e", "doc-uid", "host", true, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEndedBy(ctx, "no-call", "doc-uid", "host", true, at); err == nil {
		t.Error("endedBy on a call that does not exist: no error")
	}
	eb := dump(t, s, "appt-e")["call"].(map[string]any)["endedBy"].(map[string]any)
	if eb["uid"] != "doc-uid" || eb["role"] != "host" || !eb["at"].(time.Time).Equal(at) || eb["lock"] != true {
		t.Errorf("endedBy %v", eb)
	}
	appt, err := s.AppointmentAndCall(ctx, "appt-e")
	if err != nil || !appt.RoomLocked || appt.Room.ID != "room-e" {
		t.Fatalf("appointment after a locked end: %+v, %v; want RoomLocked", appt, err)
	}
	if err := s.ClearRoomLock(ctx, "appt-e"); err != nil {
		t.Fatal(err)
	}
	if appt, err := s.AppointmentAndCall(ctx, "appt-e"); err != nil || appt.RoomLocked {
		t.Errorf("after ClearRoomLock: %+v, %v", appt, err)
	}
}

// TestFilesAndRememberedAssetID: recording and transcript files are read,
// an asset id is remembered once and never replaces one already there.
// Planted bug caught: RememberAssetID overwriting an event's asset id.
func TestFilesAndRememberedAssetID(t *testing.T) {
	s := newStore(t, "demo-call-files")
	seed(t, s, "appt-f", "room-f")
	ctx := ctxT(t)
	rec := s.recordingRef("appt-f", "sfu-s1")
	if _, err := rec.Set(ctx, map[string]any{"kind": "sfu", "sessionId": "s1", "location": "s3://b/k.mp4"}); err != nil {
		t.Fatal(err)
	}
	tr := s.transcriptRef("appt-f", "tr1")
	if _, err := tr.Set(ctx, map[string]any{"sessionId": "s1", "transcriptTxt": map[string]any{"location": "s3://b/t.txt"},
		"summaryJson": map[string]any{"assetId": "event-asset", "location": "s3://b/s.json"}}); err != nil {
		t.Fatal(err)
	}
	f, err := s.RecordingFile(ctx, "appt-f", "sfu-s1")
	if err != nil || f.AssetID != "" || f.SessionID != "s1" || f.Location != "s3://b/k.mp4" {
		t.Fatalf("recording file %+v %v", f, err)
	}
	if err := s.RememberAssetID(ctx, f.Ref, "a-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberAssetID(ctx, f.Ref, "a-2"); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.RecordingFile(ctx, "appt-f", "sfu-s1"); f.AssetID != "a-1" {
		t.Errorf("remembered %q; want a-1", f.AssetID)
	}
	sum, err := s.TranscriptFile(ctx, "appt-f", "tr1", "summaryJson")
	if err != nil || sum.AssetID != "event-asset" {
		t.Fatalf("summary %+v %v", sum, err)
	}
	if err := s.RememberAssetID(ctx, sum.Ref, "other"); err != nil {
		t.Fatal(err)
	}
	txt, _ := s.TranscriptFile(ctx, "appt-f", "tr1", "transcriptTxt")
	if err := s.RememberAssetID(ctx, txt.Ref, "t-1"); err != nil {
		t.Fatal(err)
	}
	if sum, _ := s.TranscriptFile(ctx, "appt-f", "tr1", "summaryJson"); sum.AssetID != "event-asset" {
		t.Errorf("event's asset id replaced by %q", sum.AssetID)
	}
	if txt, _ := s.TranscriptFile(ctx, "appt-f", "tr1", "transcriptTxt"); txt.AssetID != "t-1" || txt.Location != "s3://b/t.txt" {
		t.Errorf("transcript file %+v", txt)
	}
	for _, err := range []error{
		func() error { _, err := s.RecordingFile(ctx, "appt-f", "nope"); return err }(),
		func() error { _, err := s.TranscriptFile(ctx, "appt-f", "tr1", "transcriptSrt"); return err }(),
		func() error { _, err := s.TranscriptFile(ctx, "appt-f", "tr1", "bogus"); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	}
}
