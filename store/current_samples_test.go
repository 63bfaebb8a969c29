package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// 100ms's current documentation's samples (hms/testdata/current, docs/webhook.md, Test fixtures):
// one call, in room …0002, session …5e02.
const (
	curAppt    = "appt-0002"
	curRoom    = "6564a0a5a2ad2e4f1e0d0002"
	curSession = "6564a0b1c2ad2e4f1e0d5e02"
	curPrefix  = "0c7b4d2f-8e3a-4f62-8b1d-000000000" // + three digits
)

func loadCurrentSamples(t *testing.T) [][]byte {
	t.Helper()
	files, err := filepath.Glob("../hms/testdata/current/*.json")
	if err != nil || len(files) < 30 {
		t.Fatalf("%d current samples (%v)", len(files), err)
	}
	var out [][]byte
	for _, f := range files {
		if strings.Contains(f, "doc-example") { // another room, kept for the decoder
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestApplyCurrentSamples applies every sample of the current document, in
// file order, reversed, and each twice, and checks the docs/data-model.md documents
// field by field: the current keys are read (recording_path,
// recording_presigned_url, size, session_stopped_at, session_duration,
// role_changed_at, asset ids), and every new kind lands where docs/data-model.md says.
func TestApplyCurrentSamples(t *testing.T) {
	samples := loadCurrentSamples(t)
	reversed := slices.Clone(samples)
	slices.Reverse(reversed)
	twice := append(slices.Clone(reversed), samples...)
	for _, tc := range []struct {
		name  string
		order [][]byte
	}{{"file-order", samples}, {"reversed", reversed}, {"twice", twice}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, "demo-current-"+tc.name)
			seed(t, s, curAppt, curRoom)
			for _, raw := range tc.order {
				if res := apply(t, s, raw); res.AppointmentID != curAppt || res.NotApplied != "" {
					t.Errorf("result %+v for %.80s", res, raw)
				}
			}
			d := dump(t, s, curAppt)
			checkCurrentCall(t, d["call"].(map[string]any))
			checkCurrentSession(t, d[colSessions].(map[string]any))
			checkCurrentRecordings(t, d[colRecordings].(map[string]any))
			checkCurrentTranscripts(t, d[colTranscripts].(map[string]any))
			checkCurrentFailures(t, d[colFailures].(map[string]any))
			if n := countDocs(t, s, colEvents); n != len(samples) {
				t.Errorf("%d hmsEvents, want %d", n, len(samples))
			}
		})
	}
}

func checkCurrentCall(t *testing.T, call map[string]any) {
	t.Helper()
	uploadErr := "Failed to upload recordings. Check if upload config is correct."
	expect(t, "calls", call, map[string]any{
		"appointmentId": curAppt, "doctorId": "doc-uid", "clientId": "client-uid",
		"roomId": curRoom, "roomName": "demo-" + curAppt, "templateId": "tmpl-1",
		"status": "ended", "sessionCount": int64(1),
		// The samples' users are neither the appointment's doctor nor its
		// client: nothing of theirs is counted.
		"visit": map[string]any{"doctorSec": int64(0), "clientSec": int64(0), "togetherSec": int64(0), "waitSec": int64(0)},
		// A recording and a transcript succeeded: the report says so.
		"recorded": true, "transcribed": true,
		// The open's session_started_at is 12:58:49.97; the close's (and
		// the recordings') says 12:48:49.97: the earliest wins.
		"startedAt": ts(t, "2021-11-30T12:48:49.97291247Z"),
		"endedAt":   ts(t, "2021-11-30T12:58:49.97291247Z"), // session_stopped_at
		"streams": map[string]any{
			"6564a0c0c2ad2e4f1e0dbea2": map[string]any{
				"kind": "beam", "status": "failed", "sessionId": curSession,
				"startedAt": ts(t, "2021-11-30T12:58:46Z"), // no state_timestamp: the event time
				"stoppedAt": ts(t, "2021-11-30T12:59:57Z"),
				"error":     uploadErr,
			},
			"6564a0c0c2ad2e4f1e0d0a16": map[string]any{
				"kind": "hls", "status": "failed", "sessionId": curSession,
				"startedAt": ts(t, "2021-11-30T12:58:46.400759043Z"),
				"stoppedAt": ts(t, "2021-11-30T12:59:57.797972469Z"),
				"url":       "https://100ms-live.m3u8",
				"error":     uploadErr,
			},
		},
	})
}

func checkCurrentSession(t *testing.T, sessions map[string]any) {
	t.Helper()
	expect(t, "sessions", sessions, map[string]any{curSession: map[string]any{
		"roomId": curRoom, "status": "closed",
		"startedAt":   ts(t, "2021-11-30T12:48:49.97291247Z"),
		"endedAt":     ts(t, "2021-11-30T12:58:49.97291247Z"),
		"durationSec": int64(600), // session_duration
		"roomEnd": map[string]any{
			"reason": "consultation over", "source": "peer", "userId": "uid-doctor-0002",
			"lockRoom": false, "at": ts(t, "2021-11-25T09:10:35Z"),
		},
		"peers": map[string]any{
			"4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1": map[string]any{
				"userId": "uid-doctor-0002", "userName": "Dr Test", "role": "host", "joinedRole": "host",
				"joinedAt":    ts(t, "2021-11-30T12:58:49.97291247Z"),
				"leftAt":      ts(t, "2021-11-30T12:58:58.500451704Z"),
				"durationSec": int64(40),
				"leaveReason": "client request",
			},
			// Known from its role change only: promoted at role_changed_at.
			"4f0c0c9e-1a4b-4b2c-9d1e-0000000002a2": map[string]any{
				"userId": "uid-client-0002", "userName": "Client Test", "role": "host",
				"joinedAt": ts(t, "2021-11-30T12:58:49.97291247Z"),
			},
		},
	}})
}

func checkCurrentRecordings(t *testing.T, recs map[string]any) {
	t.Helper()
	layer := func(n, asset string, size, w, h int64) map[string]any {
		return map[string]any{
			"layer": n, "assetId": asset, "sizeBytes": size, "width": w, "height": h,
			"location": "s3://<file-" + n + "-bucket-address>.mp4",
			"url":      "https://<file-" + n + "-access-url>?<signature-" + n + ">",
		}
	}
	expect(t, "recordings", recs, map[string]any{
		"sfu-" + curSession: map[string]any{
			"kind": "sfu", "status": "success", "sessionId": curSession,
			"location":     "s3://<file-bucket-address>.mp4",
			"url":          "https://<file-access-url>?<signature>",
			"sizeBytes":    int64(13933649),
			"durationSec":  int64(600),
			"chatLocation": "s3://<chat-recording-address>.csv",
			"chatUrl":      "https://<chat-recording-access-url>?<signature>",
			"startedAt":    ts(t, "2021-11-30T12:48:49.97291247Z"),
			"stoppedAt":    ts(t, "2021-11-30T12:58:49.97291247Z"),
			"error":        "INTERNAL_ERROR", // recording.failed, kept beside the success
			"errorType":    "CONFIG_ERROR",
			"createdAt":    ts(t, "2021-11-30T20:12:35Z"),
		},
		"browser-6564a0c0c2ad2e4f1e0dbea2": map[string]any{
			"kind": "browser", "status": "success", "sessionId": curSession,
			"location":       "s3://bucket/prefix/ac.mp4",
			"url":            "https://<file access URL>",
			"sizeBytes":      int64(10024),
			"durationSec":    int64(79),
			"hmsRecordingId": "6564a0d0c2ad2e4f1e0dec01",
			"startedAt":      ts(t, "2021-11-30T12:58:34.051Z"),
			"stoppedAt":      ts(t, "2021-11-30T12:59:56.778Z"),
			"createdAt":      ts(t, "2021-11-30T12:59:57.672493658Z"),
			// beam.failure had recording_enabled: its error is the recording's too.
			"error": "Failed to upload recordings. Check if upload config is correct.",
		},
		// hls.failure's job did not record (both flags false): no error here.
		"hls-6564a0c0c2ad2e4f1e0d0a16": map[string]any{
			"kind": "hls", "status": "success", "sessionId": curSession,
			"playlistUrl":      "https://<hls-vod-access-url>?<signature>",
			"playlistLocation": "s3://<hls-vod-bucket-address>.m3u8",
			"hmsRecordingId":   "6564a0d0c2ad2e4f1e0dec02",
			"durationSec":      int64(56),
			"layers": []any{
				layer("0", "646acb659348ac0ada47d9ef", 10024, 1920, 1080),
				layer("1", "646acb659348ac0ada47d0cb", 5012, 1280, 720),
				layer("2", "646acb659348ac0ada4748fc", 2506, 640, 480),
				layer("3", "646acb659348ac0aba470cdc", 1024, 480, 360),
			},
			"thumbnails": []any{map[string]any{
				"width": int64(1280), "height": int64(720), "offset": int64(60),
				"location": "s3://<thumbnail-file-bucket-address>.png",
				"url":      "https://<thumbnail-access-url>?<signature3>",
			}},
			"startedAt": ts(t, "2021-11-30T12:59:57.797972469Z"),
			"stoppedAt": ts(t, "2021-11-30T12:59:57.797972469Z"),
			"createdAt": ts(t, "2021-11-30T12:59:57.672493658Z"), // recording_created_at
		},
		// The start names the track only (docs/data-model.md: track-<track_id>).
		"track-3c1e5e95-fdd1-49ba-bb08-000000000002": map[string]any{
			"kind": "track", "status": "started", "sessionId": curSession,
			"peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1", "trackId": "3c1e5e95-fdd1-49ba-bb08-000000000002",
			"trackType": "video", "createdAt": ts(t, "2024-02-06T20:01:16Z"),
		},
		"track-6564a0d0c2ad2e4f1e0dec03": map[string]any{
			"kind": "track", "status": "success", "sessionId": curSession,
			"peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1", "trackId": "3c1e5e95-fdd1-49ba-bb08-000000000002",
			"trackType": "video", "location": "s3://bucket/prefix/ac.webm", "url": "https://bucket/prefix/ac.webm",
			"sizeBytes": int64(22989889), "hmsRecordingId": "6564a0d0c2ad2e4f1e0dec03",
			"error":     "INTERNAL_ERROR", // the failure of the same recording
			"createdAt": ts(t, "2024-02-06T20:01:16Z"),
		},
		"stream-6564a0d0c2ad2e4f1e0dec04": map[string]any{
			"kind": "stream", "status": "success", "sessionId": curSession,
			"peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1", "userId": "uid-doctor-0002",
			"location": "s3://bucket/prefix/ac.mp4", "url": "https://bucket/prefix/ac.mp4",
			"sizeBytes": int64(22989889), "durationSec": int64(185), "hmsRecordingId": "6564a0d0c2ad2e4f1e0dec04",
			"createdAt": ts(t, "2024-02-12T15:39:55Z"),
		},
		"stream-6564a0d0c2ad2e4f1e0dec05": map[string]any{
			"kind": "stream", "status": "failed", "sessionId": curSession,
			"peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1", "userId": "uid-doctor-0002",
			"location": "s3://bucket/prefix/ac.mp4", "sizeBytes": int64(2298), "durationSec": int64(1),
			"hmsRecordingId": "6564a0d0c2ad2e4f1e0dec05", "error": "INTERNAL_ERROR",
			"createdAt": ts(t, "2024-02-12T15:39:55Z"),
		},
	})
}

func checkCurrentTranscripts(t *testing.T, txs map[string]any) {
	t.Helper()
	file := func(asset, path string) map[string]any {
		return map[string]any{"assetId": asset, "location": path, "url": "https://<file-access-url>?<signature>"}
	}
	expect(t, "transcripts", txs, map[string]any{"6564a0e0c2ad2e4f1e0d7a01": map[string]any{
		// started, success and failure of one transcription: success wins.
		"status": "success", "sessionId": curSession,
		"hmsRecordingId": "6564a0d0c2ad2e4f1e0dec01", "durationSec": int64(23),
		"transcriptTxt":  file("64899f07651605b7aadc2576", "s3://<transcript-txt-address>.json"),
		"transcriptSrt":  file("64899f07651605b7aadc2577", "s3://<transcript-srt-address>.json"),
		"transcriptJson": file("64899f07651605b7aadc2578", "s3://<transcript-json-address>.json"),
		"summaryJson":    file("64899f07651605b7aadc2579", "s3://<summary-json-address>.json"),
	}})
}

func checkCurrentFailures(t *testing.T, f map[string]any) {
	t.Helper()
	expect(t, "failures", f, map[string]any{
		curPrefix + "006": map[string]any{
			"kind": "join", "peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a3", "userId": "uid-client-0002",
			"role": "guest", "error": "role not allowed", "at": ts(t, "2021-11-25T09:10:35Z"),
		},
		curPrefix + "007": map[string]any{
			"kind": "leave", "peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a4", "userId": "uid-client-0002",
			"role": "guest", "error": "Peer not joined", "at": ts(t, "2021-11-30T12:55:51Z"),
		},
		curPrefix + "009": map[string]any{
			"kind": "room-end", "peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a1", "userId": "uid-doctor-0002",
			"role": "host", "sessionId": curSession, "error": "session not found", "errorCode": int64(404),
			"at": ts(t, "2021-11-25T09:10:35Z"),
		},
		curPrefix + "011": map[string]any{
			"kind": "role-change", "peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000002a2", "userId": "uid-client-0002",
			"role": "host", "sessionId": curSession, "error": "role limit reached",
			"at": ts(t, "2021-11-30T12:58:49Z"),
		},
	})
}
