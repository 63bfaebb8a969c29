package store

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// historyEvent is one generated webhook body and its timestamp.
type historyEvent struct {
	at  time.Time
	raw []byte
}

// history generates the webhook events of whole sessions in one room, in
// timestamp order: open, peers joining and leaving (one rejoining with a new
// peer id, one leave without a duration), a role change, join and leave
// failures, recordings of each kind (SFU success and failure, browser,
// HLS with layers and thumbnails), beam and HLS streams started, stopped and
// failed, room end and close. prefix keeps ids unique across histories.
func history(rng *rand.Rand, prefix, roomID string, sessions int, start time.Time) []historyEvent {
	var evs []historyEvent
	n := 0
	add := func(at time.Time, typ string, data map[string]any) {
		n++
		data["room_id"] = roomID
		data["room_name"] = "room-" + roomID
		data["template_id"] = "tmpl-1"
		body, err := json.Marshal(map[string]any{
			"version": "2.0", "id": fmt.Sprintf("%s-ev%03d", prefix, n), "account_id": "acct", "app_id": "app",
			// 100ms stamps envelopes to the second: ties happen.
			"timestamp": at.UTC().Truncate(time.Second).Format(time.RFC3339),
			"type":      typ, "data": data,
		})
		if err != nil {
			panic(err)
		}
		evs = append(evs, historyEvent{at, body})
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	jitter := func() time.Duration { return time.Duration(rng.IntN(3000)) * time.Millisecond }

	t0 := start
	for si := range sessions {
		sid := fmt.Sprintf("%s-s%d", prefix, si)
		started := t0.Add(123456789 * time.Nanosecond)
		base := func() map[string]any {
			return map[string]any{"session_id": sid, "session_started_at": ts(started)}
		}
		add(t0, "session.open.success", base())
		type peer struct {
			id, user, name, role string
			join, leave          time.Time
			noDuration           bool
		}
		peers := []peer{
			{id: sid + "-p-doc", user: "doc-uid", name: "Dr. Who", role: "host"},
			{id: sid + "-p-cli1", user: "client-uid", name: "Pat", role: testWaitingRole},           // waits, then is admitted
			{id: sid + "-p-cli2", user: "client-uid", name: "Pat", role: "guest", noDuration: true}, // rejoin
		}
		end := t0.Add(30*time.Minute + jitter())
		// The doctor leaves five minutes before the end: the client's
		// last minutes alone are not time together.
		peers[0].join, peers[0].leave = t0.Add(2*time.Second+jitter()), end.Add(-5*time.Minute)
		peers[1].join, peers[1].leave = t0.Add(5*time.Second+jitter()), t0.Add(10*time.Minute+jitter())
		peers[2].join, peers[2].leave = peers[1].leave.Add(20*time.Second+jitter()), end.Add(-2*time.Second)
		for _, p := range peers {
			d := base()
			d["peer_id"], d["user_id"], d["user_name"], d["role"], d["user_data"] = p.id, p.user, p.name, p.role, ""
			d["joined_at"] = ts(p.join)
			add(p.join, "peer.join.success", d)
			l := base()
			l["peer_id"], l["user_id"], l["user_name"], l["role"] = p.id, p.user, p.name, p.role
			l["left_at"] = ts(p.leave)
			l["reason"] = "client request"
			if p.id == sid+"-p-cli1" {
				// 100ms's leave carries the join time too; here an
				// earlier one than the join's, which must win.
				l["joined_at"] = ts(p.join.Add(-1500 * time.Millisecond))
			}
			if !p.noDuration {
				l["duration"] = p.leave.Sub(p.join).Seconds()
			}
			add(p.leave, "peer.leave.success", l)
		}
		// The waiting client is admitted two minutes after joining (the
		// doctor's hmsAdmit: 100ms's role change names the previous role).
		adm := base()
		adm["peer_id"], adm["user_id"], adm["user_name"], adm["role"] = peers[1].id, peers[1].user, peers[1].name, "guest"
		adm["previous_role"], adm["joined_at"] = testWaitingRole, ts(peers[1].join)
		adm["role_changed_at"] = ts(peers[1].join.Add(2 * time.Minute))
		add(peers[1].join.Add(2*time.Minute), "role.change.success", adm)
		// The rejoined client is promoted, then demoted within one second
		// (equal envelope timestamps: the event id breaks the tie).
		for i, role := range []string{"host", "co-host"} {
			d := base()
			d["peer_id"], d["user_id"], d["user_name"], d["role"] = peers[2].id, peers[2].user, peers[2].name, role
			d["joined_at"] = ts(peers[2].join)
			add(peers[2].join.Add(time.Minute+time.Duration(i)*100*time.Millisecond), "role.change.success", d)
		}
		// The doctor is made "presenter" at +2 min and back "host" at +3
		// min (role_changed_at), but the second change is stamped
		// earlier: role_changed_at orders them, not the envelope.
		for i, role := range []string{"presenter", "host"} {
			d := base()
			d["peer_id"], d["user_id"], d["user_name"], d["role"] = peers[0].id, peers[0].user, peers[0].name, role
			d["joined_at"] = ts(peers[0].join)
			d["role_changed_at"] = ts(peers[0].join.Add(time.Duration(2+i) * time.Minute))
			add(peers[0].join.Add(time.Duration(5-i)*time.Minute), "role.change.success", d)
		}
		rcf := base()
		rcf["peer_id"], rcf["user_id"], rcf["user_name"], rcf["role"] = peers[1].id, peers[1].user, peers[1].name, "host"
		rcf["joined_at"], rcf["error_message"] = ts(peers[1].join), "role not allowed"
		add(peers[1].join.Add(time.Minute), "role.change.failure", rcf)
		jf := base()
		delete(jf, "session_id")
		jf["peer_id"], jf["user_id"], jf["role"], jf["joined_at"], jf["error_message"] = sid+"-p-bad", "client-uid", "guest", "0001-01-01T00:00:00Z", "role not allowed"
		add(t0.Add(3*time.Second), "peer.join.failure", jf)
		lf := base()
		delete(lf, "session_id")
		lf["peer_id"], lf["user_id"], lf["role"], lf["left_at"], lf["duration"], lf["error_message"] = sid+"-p-bad", "client-uid", "guest", "0001-01-01T00:00:00Z", 0, "Peer not joined"
		add(t0.Add(4*time.Second), "peer.leave.failure", lf)

		beam := func(id, state string, at time.Time) map[string]any {
			d := base()
			d["beam_id"], d["job_id"], d["peer_id"], d["metadata_id"] = id, id+"-job", peers[0].id, "meta"
			d["metadata_timestamp"], d["state_name"], d["state_timestamp"] = ts(at), state, ts(at)
			return d
		}
		b1, b2, h1, h2 := sid+"-beam1", sid+"-beam2", sid+"-hls1", sid+"-hls2"
		bs, be := t0.Add(time.Minute), t0.Add(20*time.Minute)
		add(bs, "beam.started.success", beam(b1, "Started", bs))
		st := beam(b1, "Stopped", be)
		st["duration"] = be.Sub(bs).Seconds()
		add(be, "beam.stopped.success", st)
		rec := beam(b1, "", be.Add(time.Minute))
		rec["created_at"], rec["started_at"], rec["stopped_at"] = ts(be.Add(time.Minute)), ts(bs), ts(be)
		rec["duration"], rec["location"] = be.Sub(bs).Seconds(), "https://s3/beam/"+b1+".mp4"
		add(be.Add(time.Minute), "beam.recording.success", rec)
		add(bs.Add(time.Second), "beam.started.success", beam(b2, "Started", bs.Add(time.Second)))
		bf := beam(b2, "Failed", bs.Add(time.Minute))
		bf["error_code"], bf["error_message"], bf["error_type"], bf["state_message"] = 1, "Failed to resolve hostname", "BeamFailed", "Failed to resolve hostname"
		bf["meeting_url"], bf["rtmp"], bf["duration"] = "https://app.100ms.live/x", []any{map[string]any{"url": "rtmp://x"}}, 56
		bf["recording_enabled"] = true
		add(bs.Add(time.Minute), "beam.failure", bf)

		hs, he := t0.Add(2*time.Minute), t0.Add(25*time.Minute)
		hst := beam(h1, "HLSStarted", hs)
		hst["url"], hst["started_at"], hst["meeting_url"], hst["start_delay"] = "https://live/"+h1+".m3u8", ts(hs), "https://app.100ms.live/x", 12
		add(hs, "hls.started.success", hst)
		hsp := beam(h1, "HLSStopped", he)
		hsp["url"], hsp["started_at"], hsp["stopped_at"], hsp["duration"] = "https://live/"+h1+".m3u8", ts(hs), ts(he), he.Sub(hs).Seconds()
		add(he, "hls.stopped.success", hsp)
		hr := beam(h1, "", he.Add(2*time.Minute))
		hr["duration"], hr["created_at"], hr["started_at"], hr["stopped_at"] = he.Sub(hs).Seconds(), ts(he.Add(2*time.Minute)), ts(hs), ts(he)
		hr["recording_hls_vod_playlist_location"] = "https://vod/" + h1 + ".m3u8?sig"
		hr["recording_single_files"] = []any{
			map[string]any{"layer": "0", "location": "s3://b/" + h1 + "-0.mp4", "presigned_url": "https://b/" + h1 + "-0.mp4?sig"},
			map[string]any{"layer": "1", "location": "s3://b/" + h1 + "-1.mp4", "presigned_url": "https://b/" + h1 + "-1.mp4?sig"},
		}
		hr["recording_thumbnails"] = []any{map[string]any{"width": 1280, "height": 720, "offset": 60, "location": "s3://b/t.png", "url": "https://b/t.png?sig"}}
		add(he.Add(2*time.Minute), "hls.recording.success", hr)
		hst2 := beam(h2, "HLSStarted", hs.Add(time.Second))
		hst2["url"], hst2["started_at"] = "https://live/"+h2+".m3u8", ts(hs.Add(time.Second))
		add(hs.Add(time.Second), "hls.started.success", hst2)
		hf := beam(h2, "HLSFailed", hs.Add(time.Minute))
		hf["error_code"], hf["error_message"], hf["error_type"] = 1, "browser failed", "HLSFailed"
		hf["recording_single_file_per_layer_enabled"] = true
		add(hs.Add(time.Minute), "hls.failure", hf)

		rs := base()
		rs["URL"], rs["location"], rs["duration"], rs["size"] = "https://s3/"+sid+".mp4?sig", "s3://b/"+sid+".mp4", 1799, 13933649
		add(end.Add(3*time.Minute), "recording.success", rs)
		rf := base()
		rf["error"] = "Upload Failure"
		add(end.Add(2*time.Minute), "recording.failed", rf)

		re := base()
		re["peer_id"], re["user_id"], re["user_name"], re["role"], re["joined_at"] = peers[0].id, "doc-uid", "Dr. Who", "host", "0001-01-01T00:00:00Z"
		re["lock_room"], re["reason"], re["source"] = false, "consultation over", "peer"
		add(end.Add(-3*time.Second), "room.end.success", re)
		ref := base()
		ref["peer_id"], ref["user_id"], ref["role"] = peers[1].id, "client-uid", "guest"
		ref["lock_room"], ref["reason"], ref["error_message"], ref["error_code"] = true, "done", "peer not allowed to end room", 403
		add(end.Add(-4*time.Second), "room.end.failure", ref)

		// Track and stream recordings: 100ms documents size and duration
		// as strings. One track records, one fails after starting.
		tr := func(track, kind string) map[string]any {
			d := base()
			d["peer_id"], d["stream_id"], d["track_id"], d["track_type"] = peers[0].id, sid+"-st", track, kind
			return d
		}
		add(bs, "track.recording.started.success", tr(sid+"-t-a", "audio"))
		tok := tr(sid+"-t-a", "audio")
		tok["recording_id"], tok["recording_path"], tok["recording_presigned_url"] = sid+"-rec-a", "s3://b/"+sid+"-a.webm", "https://b/"+sid+"-a.webm?sig"
		tok["size"], tok["duration"] = "123456", "1140"
		add(be.Add(30*time.Second), "track.recording.success", tok)
		add(bs, "track.recording.started.success", tr(sid+"-t-v", "video"))
		tf := tr(sid+"-t-v", "video")
		tf["error_message"] = "upload failed"
		add(be.Add(40*time.Second), "track.recording.failure", tf)
		sr := base()
		sr["peer_id"], sr["user_id"], sr["stream_id"], sr["type"] = peers[1].id, "client-uid", sid+"-st1", "regular"
		sr["recording_id"], sr["recording_path"], sr["recording_presigned_url"], sr["size"], sr["duration"] = sid+"-srec", "s3://b/"+sid+"-s.mp4", "https://b/"+sid+"-s.mp4?sig", "99", "600"
		add(end.Add(time.Minute), "stream.recording.success", sr)
		sf := base()
		sf["peer_id"], sf["user_id"], sf["recording_id"], sf["error_message"] = peers[2].id, "client-uid", sid+"-srec2", "encoder crashed"
		add(end.Add(time.Minute), "stream.recording.failure", sf)

		// Transcription: started then succeeded (with a summary); another
		// started then failed, reported under both of 100ms's names.
		tx := func(id string) map[string]any {
			d := base()
			d["transcription_id"], d["recording_id"] = id, sid+"-trec"
			return d
		}
		add(bs, "transcription.started.success", tx(sid+"-tx1"))
		txok := tx(sid + "-tx1")
		txok["duration"] = 1799
		for _, f := range []string{"transcript_txt", "transcript_srt", "transcript_json", "summary_json"} {
			txok[f+"_asset_id"], txok[f+"_path"], txok[f+"_presigned_url"] = sid+"-"+f, "s3://b/"+sid+"/"+f, "https://b/"+sid+"/"+f+"?sig"
		}
		add(end.Add(2*time.Minute), "transcription.success", txok)
		add(bs.Add(time.Second), "transcription.started.success", tx(sid+"-tx2"))
		txf := tx(sid + "-tx2")
		txf["error_message"] = "no speech"
		add(end.Add(2*time.Minute), "transcription.failure", txf)
		add(end.Add(2*time.Minute+time.Second), "transcription.failed", txf)

		cl := base()
		cl["session_stopped_at"], cl["session_duration"] = ts(end.Add(-500*time.Millisecond)), int(end.Sub(started).Seconds())
		add(end, "session.close.success", cl)
		t0 = end.Add(time.Hour)
	}
	sortHistory(evs)
	return evs
}

func sortHistory(evs []historyEvent) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(7, 11)) }
