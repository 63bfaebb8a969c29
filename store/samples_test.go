package store

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
)

// The reference samples (docs/webhook.md, Test fixtures: hms/testdata/events/distinct, one per
// event type of reference/100ms-webhook-events.txt, with distinct ids) all
// belong to one room and one session.
const (
	sampleAppt    = "appt-0001"
	sampleRoom    = "6564a0a5a2ad2e4f1e0d0001"
	sampleSession = "6564a0b1c2ad2e4f1e0d5e01"
	sampleBeam    = "6564a0c0c2ad2e4f1e0dbea1"
	sampleHLS     = "6564a0c0c2ad2e4f1e0d0a15"
	sampleIDs     = "0b6a3c1e-7d2f-4e51-9a0c-0000000000" // + two digits
)

// loadSamples reads every distinct sample, sorted by file name (which is
// not their timestamp order).
func loadSamples(t *testing.T) [][]byte {
	t.Helper()
	files, err := filepath.Glob("../hms/testdata/events/distinct/*.json")
	if err != nil || len(files) != 18 {
		t.Fatalf("%d samples (%v), want one per event type of docs/webhook.md", len(files), err)
	}
	out := make([][]byte, len(files))
	for i, f := range files {
		if out[i], err = os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// ts parses an RFC 3339 time of the samples as Firestore keeps it (UTC,
// microseconds).
func ts(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC().Truncate(time.Microsecond)
}

// TestApplyReferenceSamples applies every reference sample to a seeded
// appointment, in file-name order and in the reverse order, and checks
// every docs/data-model.md document field by field.
func TestApplyReferenceSamples(t *testing.T) {
	samples := loadSamples(t)
	reversed := slices.Clone(samples)
	slices.Reverse(reversed)
	for _, tc := range []struct {
		name  string
		order [][]byte
	}{{"file-order", samples}, {"reversed", reversed}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, "demo-samples-"+tc.name)
			seed(t, s, sampleAppt, sampleRoom)
			begin := time.Now()
			for _, raw := range tc.order {
				if res := apply(t, s, raw); res.AppointmentID != sampleAppt || res.Duplicate {
					t.Errorf("result %+v for %.80s", res, raw)
				}
			}
			checkSampleCall(t, s)
			checkSampleSession(t, s)
			checkSampleRecordings(t, s)
			checkSampleEvents(t, s, samples, begin)
		})
	}
}

// expect compares got with want field by field: every field of want must be
// present with that value, and got must have no other field.
func expect(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	var d []string
	diff(utc(want), utc(got), what, &d)
	for _, line := range d {
		t.Errorf("%s (want != got)", line)
	}
}

func checkSampleCall(t *testing.T, s *Store) {
	t.Helper()
	snap, err := s.callRef(sampleAppt).Get(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	call := snap.Data()
	for _, k := range []string{"createdAt", "updatedAt"} {
		if _, ok := call[k].(time.Time); !ok {
			t.Errorf("calls.%s = %#v, want a timestamp", k, call[k])
		}
	}
	stateErr := "[tcp @ 0x55f6cc5f5780] Failed to resolve hostname rvs-isr: Name or service not known"
	expect(t, "calls", strip(call), map[string]any{
		"appointmentId": sampleAppt,
		"doctorId":      "doc-uid",
		"clientId":      "client-uid",
		"roomId":        sampleRoom,
		"roomName":      "demo-" + sampleAppt,
		"templateId":    "tmpl-1",
		// The close carries the same timestamp as the open: the one
		// session is closed, so the call has ended.
		"status":       "ended",
		"sessionCount": int64(1),
		// The samples' users are neither the appointment's doctor nor its
		// client: nothing of theirs is counted.
		"visit":     map[string]any{"doctorSec": int64(0), "clientSec": int64(0), "togetherSec": int64(0), "waitSec": int64(0)},
		"recorded":  true, // a recording succeeded: the report says so
		"startedAt": ts(t, "2021-11-30T12:58:49.97291247Z"),
		"endedAt":   ts(t, "2021-11-30T12:58:49Z"),
		"streams": map[string]any{
			sampleBeam: map[string]any{
				"kind":      "beam",
				"status":    "failed", // failed beats stopped beats started
				"sessionId": sampleSession,
				"startedAt": ts(t, "2021-11-30T12:58:46.385555859Z"),
				"stoppedAt": ts(t, "2021-11-30T12:59:57.685503281Z"),
				"error":     stateErr,
			},
			sampleHLS: map[string]any{
				"kind":      "hls",
				"status":    "failed",
				"sessionId": sampleSession,
				// hls.started's started_at; hls.stopped's own
				// started_at (later) does not move it.
				"startedAt": ts(t, "2021-11-30T12:58:46.400759043Z"),
				"stoppedAt": ts(t, "2021-11-30T12:59:57.797972469Z"),
				"url":       "https://100ms-live.m3u8",
				"error":     stateErr,
			},
		},
	})
	checkSampleFailures(t, s)
}

// checkSampleFailures checks calls/{a}/failures: one document per failure
// event, none on the call document (docs/data-model.md, revision 3).
func checkSampleFailures(t *testing.T, s *Store) {
	t.Helper()
	docs, err := s.callRef(sampleAppt).Collection(colFailures).Documents(ctxT(t)).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, d := range docs {
		got[d.Ref.ID] = d.Data()
	}
	expect(t, "failures", got, map[string]any{
		sampleIDs + "05": map[string]any{
			"kind":   "join",
			"peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000000f1",
			"userId": "uid-doctor-0001",
			"role":   "host",
			"error":  "role not allowed",
			// joined_at is 0001-01-01 (absent): the event's time.
			"at": ts(t, "2021-11-25T09:10:35Z"),
		},
		sampleIDs + "06": map[string]any{
			"kind":   "leave",
			"peerId": "4f0c0c9e-1a4b-4b2c-9d1e-0000000000f1",
			"userId": "uid-doctor-0001",
			"role":   "host",
			"error":  "Peer not joined",
			"at":     ts(t, "2021-11-30T12:55:51Z"),
		},
	})
}

func checkSampleSession(t *testing.T, s *Store) {
	t.Helper()
	snap, err := s.sessionRef(sampleAppt, sampleSession).Get(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "sessions."+sampleSession, snap.Data(), map[string]any{
		"roomId":    sampleRoom,
		"status":    "closed",
		"startedAt": ts(t, "2021-11-30T12:58:49.97291247Z"),
		"endedAt":   ts(t, "2021-11-30T12:58:49Z"),
		// The close's timestamp (whole seconds) precedes
		// session_started_at by 0.97 s: a duration is never negative.
		"durationSec": int64(0),
		"roomEnd": map[string]any{
			"reason":   "consultation over",
			"source":   "peer",
			"userId":   "uid-doctor-0001",
			"lockRoom": false,
			"at":       ts(t, "2021-11-25T09:10:35Z"),
		},
		"peers": map[string]any{
			"4f0c0c9e-1a4b-4b2c-9d1e-0000000000a1": map[string]any{
				"userId":     "uid-doctor-0001",
				"userName":   "Dr Test",
				"joinedRole": "host",
				// The role change has the join's timestamp and wins the tie.
				"role":        "guest",
				"joinedAt":    ts(t, "2021-11-30T12:58:49.97291247Z"),
				"leftAt":      ts(t, "2021-11-30T12:58:58.500451704Z"),
				"durationSec": int64(40), // the leave's duration
				// The sample leave has no reason: absent, not empty.
			},
		},
	})
}

func checkSampleRecordings(t *testing.T, s *Store) {
	t.Helper()
	docs, err := s.callRef(sampleAppt).Collection(colRecordings).Documents(ctxT(t)).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, d := range docs {
		got[d.Ref.ID] = d.Data()
	}
	layer := func(n string) map[string]any {
		return map[string]any{
			"layer":    n,
			"location": "s3://<file-" + n + "-bucket-address>.mp4",
			"url":      "https://<file-" + n + "-access-url>?<signature-" + n + ">",
		}
	}
	expect(t, "recordings", got, map[string]any{
		"sfu-" + sampleSession: map[string]any{
			"kind":        "sfu",
			"status":      "success", // success beats recording.failed
			"sessionId":   sampleSession,
			"location":    "s3://<file-bucket-address>.mp4",
			"url":         "https://<file-access-url>?<signature>",
			"durationSec": int64(351),
			"sizeBytes":   int64(13933649),
			"error":       "Upload Failure",              // kept next to the success
			"createdAt":   ts(t, "2021-11-30T20:12:35Z"), // no created_at: the event's time
			"startedAt":   ts(t, "2021-11-30T12:58:49.97291247Z"),
		},
		"browser-" + sampleBeam: map[string]any{
			"kind":        "browser",
			"status":      "success",
			"sessionId":   sampleSession,
			"location":    "https://<file access URL>",
			"url":         "https://<file access URL>",
			"durationSec": int64(79),
			"startedAt":   ts(t, "2021-11-30T12:58:34.051Z"),
			"stoppedAt":   ts(t, "2021-11-30T12:59:56.778Z"),
			"createdAt":   ts(t, "2021-11-30T12:59:57.672493658Z"),
			// The sample beam.failure does not say recording_enabled:
			// no failed recording (docs/data-model.md), so no error here.
		},
		"hls-" + sampleHLS: map[string]any{
			"kind":        "hls",
			"status":      "success",
			"sessionId":   sampleSession,
			"playlistUrl": "https://<hls-vod-access-url>?<signature>",
			"durationSec": int64(56),
			"layers":      []any{layer("0"), layer("1"), layer("2"), layer("3")},
			"thumbnails": []any{map[string]any{
				"width": int64(1280), "height": int64(720), "offset": int64(60),
				"location": "s3://<thumbnail-file-bucket-address>.png",
				"url":      "https://<thumbnail-access-url>?<signature3>",
			}},
			"startedAt": ts(t, "2021-11-30T12:59:57.797972469Z"),
			"stoppedAt": ts(t, "2021-11-30T12:59:57.797972469Z"),
			"createdAt": ts(t, "2021-11-30T12:59:57.672493658Z"),
		},
	})
}

// utc makes every time in v a UTC time, so that reflect.DeepEqual compares
// instants and not the locations the client library chose.
func utc(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC()
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = utc(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = utc(e)
		}
		return l
	}
	return v
}

// checkSampleEvents checks hmsEvents: one document per sample, created once.
func checkSampleEvents(t *testing.T, s *Store, samples [][]byte, begin time.Time) {
	t.Helper()
	for _, raw := range samples {
		ev, err := hms.ParseEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := s.fs.Collection(colEvents).Doc(ev.ID).Get(ctxT(t))
		if err != nil {
			t.Fatalf("hmsEvents/%s: %v", ev.ID, err)
		}
		d := snap.Data()
		received, _ := d["receivedAt"].(time.Time)
		expire, _ := d["expireAt"].(time.Time)
		// receivedAt is server time, expireAt the local clock's
		// receivedAt + 90 days: allow for clock skew and a slow machine.
		if received.Before(begin.Add(-time.Minute)) || received.After(time.Now().Add(time.Minute)) {
			t.Errorf("hmsEvents/%s.receivedAt = %v, want about now", ev.ID, d["receivedAt"])
		}
		if off := expire.Sub(received) - 90*24*time.Hour; off < -time.Minute || off > time.Minute {
			t.Errorf("hmsEvents/%s.expireAt = %v, want receivedAt (%v) + 90 days", ev.ID, d["expireAt"], received)
		}
		delete(d, "receivedAt")
		delete(d, "expireAt")
		want := map[string]any{
			"raw":           string(raw),
			"type":          string(ev.Type),
			"roomId":        sampleRoom,
			"appointmentId": sampleAppt,
			"timestamp":     ev.Timestamp,
			"applied":       true,
		}
		// peer.join.failure and peer.leave.failure carry no session id.
		if !strings.HasPrefix(string(ev.Type), "peer.") || !strings.HasSuffix(string(ev.Type), ".failure") {
			want["sessionId"] = sampleSession
		}
		expect(t, "hmsEvents/"+ev.ID, d, want)
	}
	if n := countDocs(t, s, colEvents); n != len(samples) {
		t.Errorf("%d hmsEvents documents, want %d", n, len(samples))
	}
}
