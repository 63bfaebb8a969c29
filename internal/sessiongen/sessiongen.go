// Package sessiongen generates realistic 100ms webhook histories for load
// tests and order tests: whole sessions in rooms, with a session opening,
// several peers joining and leaving, rejoins under new peer ids, role
// changes, join and leave failures, recordings of each kind (SFU, browser,
// HLS), beam and HLS streams that stop or fail, the room ended by the host,
// and the session closing.
//
// Bodies are the JSON 100ms posts (see hms/testdata/events/distinct): the
// same envelope (version, id, account_id, app_id for the types that carry
// it, timestamp to the second, type) and the same data fields in the same
// order. Event ids are unique UUIDs; everything is deterministic for a
// given Config.Seed.
package sessiongen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Event is one webhook delivery as 100ms would send it.
type Event struct {
	ID        string
	Type      string
	RoomID    string
	SessionID string // empty for peer.join.failure and peer.leave.failure
	// At is when the event happened, with nanoseconds; the envelope's
	// timestamp is At truncated to the second, as 100ms stamps it.
	At   time.Time
	Body []byte
}

// Room is one 100ms room, as hmsToken would create it for an appointment,
// with the events of all its sessions in time order.
type Room struct {
	ID            string
	Name          string
	TemplateID    string
	AppointmentID string
	Events        []Event
	// Sessions is what 100ms itself knows of the room's sessions (its
	// GET /sessions/{id}), for a fake of its REST API.
	Sessions []Session
}

// Session is one session as 100ms's REST API reports it.
type Session struct {
	ID                 string
	StartedAt, EndedAt time.Time
	Peers              []Peer
}

// Peer is one peer id of a session: its user, its role at the end (after
// role changes), and when it joined and left.
type Peer struct {
	ID, UserID, Name, Role string
	JoinedAt, LeftAt       time.Time
}

// Config parameterises a Generator. The zero value is usable.
type Config struct {
	// Seed makes the histories reproducible.
	Seed uint64
	// Prefix starts every appointment id and room name ("appt" if empty),
	// so that several generators can share one database.
	Prefix string
	// Start is when the first session opens (a fixed date if zero). Each
	// room's first session opens within a minute of it, so that sessions
	// overlap as much as possible.
	Start time.Time
	// MaxSessions bounds the sessions per room (1 if zero or less): the
	// second and later sessions open an hour after the previous one closed.
	MaxSessions int
	// TemplateID is the 100ms template of every room.
	TemplateID string
	// WaitingRole, when set, has some clients join in this role (the
	// waiting room) and be moved to guest by a role change whose
	// previous_role is it, as the doctor's hmsAdmit makes 100ms send.
	WaitingRole string
}

// Generator makes rooms one after another; it is not safe for concurrent use.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	ids   map[string]bool
	rooms int
}

const (
	accountID = "6564a09aa2ad2e4f1e0d00ac"
	appID     = "6564a09aa2ad2e4f1e0d00ab"
)

// New returns a Generator for cfg.
func New(cfg Config) *Generator {
	if cfg.Prefix == "" {
		cfg.Prefix = "appt"
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	}
	if cfg.MaxSessions < 1 {
		cfg.MaxSessions = 1
	}
	if cfg.TemplateID == "" {
		cfg.TemplateID = "6564a09aa2ad2e4f1e0d0e7e"
	}
	return &Generator{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5e5510)), ids: map[string]bool{}}
}

// Rooms makes rooms until they hold at least minEvents events in all.
func (g *Generator) Rooms(minEvents int) []Room {
	var rooms []Room
	for n := 0; n < minEvents; {
		r := g.Room()
		n += len(r.Events)
		rooms = append(rooms, r)
	}
	return rooms
}

// Room makes the next room and the events of its sessions.
func (g *Generator) Room() Room {
	g.rooms++
	appt := fmt.Sprintf("%s-%05d", g.cfg.Prefix, g.rooms)
	r := Room{ID: g.objectID(), Name: "demo-videocalls-" + appt, TemplateID: g.cfg.TemplateID, AppointmentID: appt}
	t0 := g.cfg.Start.Add(time.Duration(g.rng.IntN(60_000)) * time.Millisecond)
	for range 1 + g.rng.IntN(g.cfg.MaxSessions) {
		end := g.session(&r, t0)
		t0 = end.Add(time.Hour + time.Duration(g.rng.IntN(600))*time.Second)
	}
	Sort(r.Events)
	return r
}

// Sort orders events by At, keeping the order of equal times.
func Sort(evs []Event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
}

// All returns the events of rooms in one slice, in time order.
func All(rooms []Room) []Event {
	var all []Event
	for _, r := range rooms {
		all = append(all, r.Events...)
	}
	Sort(all)
	return all
}

// peer is one peer id: a join and its leave, within one session.
type peer struct {
	id, user, name, role string
	join, leave          time.Time
	noDuration, waits    bool
}

// session appends the events of one session opening at t0 and returns when
// it closed.
func (g *Generator) session(r *Room, t0 time.Time) time.Time {
	sid := g.objectID()
	started := t0.Add(time.Duration(g.rng.IntN(1e9)) * time.Nanosecond)
	length := 10*time.Minute + time.Duration(g.rng.IntN(40*60))*time.Second
	end := t0.Add(length)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	within := func(from, to time.Time) time.Time {
		if !to.After(from) {
			return from
		}
		return from.Add(time.Duration(g.rng.Int64N(int64(to.Sub(from)))))
	}
	add := func(at time.Time, typ string, data obj) {
		g.add(r, sid, at, typ, data)
	}
	// base is the tail every session event carries.
	common := func(d obj) obj {
		return append(d, kv{"session_started_at", ts(started)})
	}

	add(t0, "session.open.success", common(obj{
		{"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
	}))

	// The doctor stays; the client (and sometimes an interpreter) may drop
	// out and rejoin under a new peer id.
	doctorUID := "uid-doctor-" + r.AppointmentID
	clientUID := "uid-client-" + r.AppointmentID
	doctor := peer{id: g.uuid(), user: doctorUID, name: "Dr Test", role: "host",
		join: t0.Add(time.Second + time.Duration(g.rng.IntN(5000))*time.Millisecond)}
	doctor.leave = end.Add(-time.Duration(1+g.rng.IntN(5)) * time.Second)
	peers := []peer{doctor}
	attendees := []struct{ user, name string }{{clientUID, "Pat Client"}}
	if g.rng.IntN(10) < 3 {
		attendees = append(attendees, struct{ user, name string }{"uid-interp-" + r.AppointmentID, "Interpreter"})
	}
	for _, a := range attendees {
		at := t0.Add(2*time.Second + time.Duration(g.rng.IntN(60_000))*time.Millisecond)
		rejoins := g.rng.IntN(3)
		for i := 0; i <= rejoins; i++ {
			p := peer{id: g.uuid(), user: a.user, name: a.name, role: "guest", join: at}
			if i == 0 && g.cfg.WaitingRole != "" && g.rng.IntN(2) == 0 {
				p.role, p.waits = g.cfg.WaitingRole, true
			}
			last := i == rejoins
			if last {
				p.leave = end.Add(-time.Duration(g.rng.IntN(4000)) * time.Millisecond)
			} else {
				p.leave = within(at.Add(30*time.Second), at.Add(length/time.Duration(rejoins+2)))
			}
			p.noDuration = g.rng.IntN(5) == 0
			peers = append(peers, p)
			at = p.leave.Add(5*time.Second + time.Duration(g.rng.IntN(55_000))*time.Millisecond)
		}
	}
	for _, p := range peers {
		add(p.join, "peer.join.success", common(obj{
			{"joined_at", ts(p.join)}, {"peer_id", p.id}, {"role", p.role}, {"room_id", r.ID},
			{"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
			{"user_id", p.user}, {"user_name", p.name}, {"user_data", ""},
		}))
		leave := obj{}
		if !p.noDuration {
			leave = append(leave, kv{"duration", int(p.leave.Sub(p.join).Seconds())})
		}
		reasons := []string{"client request", "client request", "network", "peer kicked"}
		add(p.leave, "peer.leave.success", common(append(leave,
			kv{"left_at", ts(p.leave)}, kv{"peer_id", p.id}, kv{"role", p.role}, kv{"room_id", r.ID},
			kv{"room_name", r.Name}, kv{"session_id", sid}, kv{"template_id", r.TemplateID},
			kv{"user_id", p.user}, kv{"user_name", p.name}, kv{"user_data", ""},
			kv{"reason", reasons[g.rng.IntN(len(reasons))]},
		)))
	}
	// Admissions from the waiting room: the doctor moves the peer to
	// guest while it is there (or, now and then, never does).
	for _, p := range peers {
		if !p.waits || g.rng.IntN(5) == 0 {
			continue
		}
		at := within(p.join, p.leave)
		add(at, "role.change.success", common(obj{
			{"joined_at", ts(p.join)}, {"peer_id", p.id}, {"previous_role", p.role}, {"role", "guest"},
			{"role_changed_at", ts(at)}, {"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid},
			{"template_id", r.TemplateID}, {"user_id", p.user}, {"user_name", p.name}, {"user_data", ""},
		}))
	}
	// Role changes of a guest while present; the latest decides the role
	// 100ms reports at the end.
	finalRole := map[string]string{}
	lastChange := map[string]time.Time{}
	for range g.rng.IntN(3) {
		p := peers[1+g.rng.IntN(len(peers)-1)]
		roles := []string{"host", "guest", "co-host"}
		role, at := roles[g.rng.IntN(len(roles))], within(p.join, p.leave)
		if !at.Before(lastChange[p.id]) {
			finalRole[p.id], lastChange[p.id] = role, at
		}
		add(at, "role.change.success", common(obj{
			{"joined_at", ts(p.join)}, {"peer_id", p.id}, {"role", role},
			{"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
			{"user_id", p.user}, {"user_name", p.name}, {"user_data", ""},
		}))
	}
	// A refused join and its leave: no session id in either.
	if g.rng.IntN(5) == 0 {
		id, at := g.uuid(), within(t0, end)
		add(at, "peer.join.failure", obj{
			{"joined_at", "0001-01-01T00:00:00Z"}, {"peer_id", id}, {"role", "host"}, {"room_id", r.ID},
			{"room_name", r.Name}, {"user_id", clientUID}, {"template_id", r.TemplateID},
			{"user_name", "Pat Client"}, {"user_data", ""}, {"error_message", "role not allowed"},
		})
		add(at.Add(time.Second), "peer.leave.failure", obj{
			{"duration", 0}, {"left_at", "0001-01-01T00:00:00Z"}, {"peer_id", id}, {"role", "host"},
			{"room_id", r.ID}, {"room_name", r.Name}, {"user_id", clientUID}, {"template_id", r.TemplateID},
			{"user_name", "Pat Client"}, {"user_data", ""}, {"error_message", "Peer not joined"},
		})
	}

	// Streams: a browser-recording beam and an HLS stream, each either
	// started, stopped and recorded, or started and failed.
	beamHead := func(id, state string, at time.Time) obj {
		return obj{
			{"beam_id", id}, {"job_id", id}, {"metadata_id", g.uuid()}, {"metadata_timestamp", ts(at)},
			{"peer_id", doctor.id}, {"room_id", r.ID}, {"session_id", sid}, {"template_id", r.TemplateID},
			{"state_name", state}, {"state_timestamp", ts(at)},
		}
	}
	failure := func(typ, id, state string, from, at time.Time) {
		msg := "[tcp @ 0x55f6cc5f5780] Failed to resolve hostname rvs-isr: Name or service not known"
		d := append(beamHead(id, state, at), kv{"error_code", 1}, kv{"error_message", msg},
			kv{"error_type", "BeamFailed"}, kv{"state_message", msg},
			kv{"meeting_url", "https://app.100ms.live/preview/" + r.ID + "?token=beam_recording"})
		if typ == "beam.failure" {
			d = append(d, kv{"rtmp", []obj{{{"url", "rtmp://live.example.com/app"}}}}, kv{"recording_enabled", true})
		} else {
			d = append(d, kv{"recording_single_file_per_layer_enabled", true})
		}
		add(at, typ, common(append(d, kv{"duration", int(at.Sub(from).Seconds())})))
	}
	recordingTail := func(created, from, to time.Time) obj {
		return obj{{"created_at", ts(created)}, {"started_at", ts(from)}, {"stopped_at", ts(to)}}
	}
	if n := g.rng.IntN(10); n < 5 {
		id := g.objectID()
		bs := within(doctor.join, doctor.join.Add(5*time.Minute))
		add(bs, "beam.started.success", common(append(beamHead(id, "Started", bs), kv{"start_delay", 12})))
		if n < 4 {
			be := within(bs.Add(time.Minute), doctor.leave)
			add(be, "beam.stopped.success", common(append(beamHead(id, "Stopped", be), kv{"duration", int(be.Sub(bs).Seconds())})))
			rt := be.Add(time.Duration(30+g.rng.IntN(120)) * time.Second)
			add(rt, "beam.recording.success", common(append(obj{
				{"beam_id", id}, {"created_at", ts(rt)}, {"duration", int(be.Sub(bs).Seconds())},
				{"location", "https://storage.example.com/beam/" + id + ".mp4?sig=" + g.objectID()},
				{"metadata_id", g.uuid()}, {"metadata_timestamp", ts(rt)}, {"peer_id", doctor.id},
				{"room_id", r.ID}, {"session_id", sid}, {"template_id", r.TemplateID},
			}, recordingTail(rt, bs, be)[1:]...)))
		} else {
			failure("beam.failure", id, "Failed", bs, within(bs, bs.Add(2*time.Minute)))
		}
	}
	if n := g.rng.IntN(10); n < 4 {
		id := g.objectID()
		hs := within(doctor.join, doctor.join.Add(5*time.Minute))
		meeting := kv{"meeting_url", "https://app.100ms.live/preview/" + r.ID + "?token=beam_recording"}
		live := "https://cdn.example.com/hls/" + id + "/master.m3u8"
		add(hs, "hls.started.success", common(append(beamHead(id, "HLSStarted", hs), meeting,
			kv{"start_delay", 12}, kv{"url", live}, kv{"started_at", ts(hs)})))
		if n < 3 {
			he := within(hs.Add(time.Minute), doctor.leave)
			add(he, "hls.stopped.success", common(append(beamHead(id, "HLSStopped", he), meeting,
				kv{"duration", int(he.Sub(hs).Seconds())}, kv{"started_at", ts(hs)}, kv{"stopped_at", ts(he)})))
			rt := he.Add(time.Duration(60+g.rng.IntN(240)) * time.Second)
			var layers []obj
			for l := range 1 + g.rng.IntN(4) {
				layers = append(layers, obj{{"layer", fmt.Sprint(l)},
					{"location", fmt.Sprintf("s3://bucket/hls/%s-%d.mp4", id, l)},
					{"presigned_url", fmt.Sprintf("https://bucket.example.com/hls/%s-%d.mp4?sig=%s", id, l, g.objectID())}})
			}
			add(rt, "hls.recording.success", common(append(obj{
				{"beam_id", id}, {"session_id", sid}, {"template_id", r.TemplateID}, {"metadata_id", g.uuid()},
				{"metadata_timestamp", ts(rt)}, {"peer_id", doctor.id}, {"room_id", r.ID},
				{"duration", int(he.Sub(hs).Seconds())}, meeting,
				{"recording_hls_vod_playlist_location", "https://vod.example.com/" + id + ".m3u8?sig=" + g.objectID()},
				{"recording_single_files", layers},
				{"recording_thumbnails", []obj{{{"width", 1280}, {"height", 720}, {"offset", 60},
					{"location", "s3://bucket/hls/" + id + ".png"}, {"url", "https://bucket.example.com/hls/" + id + ".png?sig=x"}}}},
			}, recordingTail(rt, hs, he)...)))
		} else {
			failure("hls.failure", id, "HLSFailed", hs, within(hs, hs.Add(2*time.Minute)))
		}
	}
	// The SFU recording of the session: success, failure, both (a failed
	// upload retried), or none.
	sfu := g.rng.IntN(20)
	if sfu >= 12 && sfu < 16 {
		add(end.Add(time.Duration(60+g.rng.IntN(60))*time.Second), "recording.failed", common(obj{
			{"error", "Upload Failure"}, {"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid},
			{"template_id", r.TemplateID},
		}))
	}
	if sfu < 12 || sfu == 16 || sfu == 17 {
		add(end.Add(time.Duration(120+g.rng.IntN(120))*time.Second), "recording.success", common(obj{
			{"URL", "https://storage.example.com/sfu/" + sid + ".mp4?sig=" + g.objectID()},
			{"duration", int(length.Seconds())}, {"location", "s3://bucket/sfu/" + sid + ".mp4"},
			{"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
			{"size", 1_000_000 + g.rng.IntN(900_000_000)},
		}))
	}
	if g.rng.IntN(10) < 6 {
		add(doctor.leave.Add(-time.Second), "room.end.success", common(obj{
			{"joined_at", "0001-01-01T00:00:00Z"}, {"peer_id", doctor.id}, {"role", "host"}, {"room_id", r.ID},
			{"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
			{"user_id", doctor.user}, {"user_name", doctor.name}, {"lock_room", false},
			{"reason", "consultation over"}, {"source", "peer"},
		}))
	}
	add(end, "session.close.success", common(obj{
		{"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
	}))
	known := Session{ID: sid, StartedAt: started, EndedAt: end}
	for _, p := range peers {
		role := p.role
		if fr, ok := finalRole[p.id]; ok {
			role = fr
		}
		known.Peers = append(known.Peers, Peer{ID: p.id, UserID: p.user, Name: p.name, Role: role, JoinedAt: p.join, LeftAt: p.leave})
	}
	r.Sessions = append(r.Sessions, known)
	return end
}

// withAppID lists the types whose envelope carries app_id (as in the
// samples 100ms documents), and the version each is sent with.
var withAppID = map[string]string{
	"session.open.success": "2.0", "session.close.success": "2.0", "role.change.success": "2.0",
	"recording.success": "1.0", "recording.failed": "1.0",
	"transcription.started.success": "2.0", "transcription.success": "2.0",
}

func (g *Generator) add(r *Room, sid string, at time.Time, typ string, data obj) {
	id := g.uuid()
	env := obj{{"version", "2.0"}, {"id", id}, {"account_id", accountID}}
	if v, ok := withAppID[typ]; ok {
		env = obj{{"version", v}, {"id", id}, {"app_id", appID}, {"account_id", accountID}}
	}
	env = append(env, kv{"timestamp", at.UTC().Truncate(time.Second).Format(time.RFC3339)},
		kv{"type", typ}, kv{"data", data})
	body, err := env.MarshalJSON()
	if err != nil {
		panic(fmt.Sprintf("sessiongen: marshal %s: %v", typ, err)) // only plain values are marshalled
	}
	e := Event{ID: id, Type: typ, RoomID: r.ID, SessionID: sid, At: at, Body: body}
	if typ == "peer.join.failure" || typ == "peer.leave.failure" {
		e.SessionID = ""
	}
	r.Events = append(r.Events, e)
}

// uuid returns a fresh random version-4 UUID, unique within g.
func (g *Generator) uuid() string {
	for {
		hi, lo := g.rng.Uint64(), g.rng.Uint64()
		hi = hi&^0xf000 | 0x4000
		lo = lo&^(0xc<<60) | 0x8<<60
		s := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
		if !g.ids[s] {
			g.ids[s] = true
			return s
		}
	}
}

// objectID returns a fresh 24-hex id, the form 100ms gives rooms,
// sessions and beams, unique within g.
func (g *Generator) objectID() string {
	for {
		s := fmt.Sprintf("%08x%016x", g.rng.Uint32(), g.rng.Uint64())
		if !g.ids[s] {
			g.ids[s] = true
			return s
		}
	}
}

// kv and obj make a JSON object that keeps its keys in the order given, as
// 100ms writes them.
type kv struct {
	k string
	v any
}

type obj []kv

// MarshalJSON writes the pairs in order, with the ", " and ": "
// separators of 100ms's bodies.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := encode(&b, o); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encode writes v; obj and []obj are written here (json.Marshal would
// compact them), anything else by encoding/json.
func encode(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case obj:
		b.WriteByte('{')
		for i, p := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(p.k)
			b.Write(k)
			b.WriteString(": ")
			if err := encode(b, p.v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []obj:
		b.WriteByte('[')
		for i, o := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := encode(b, o); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(j)
	}
	return nil
}

// ConsultationSpec names the room and the people of one scripted
// consultation; Consultation fills in the rest.
type ConsultationSpec struct {
	AppointmentID, RoomID, RoomName, TemplateID string
	DoctorUID, ClientUID                        string
	// Start is when the session opens (now if zero).
	Start time.Time
	// Length is how long the session lasts (10 minutes if zero; at least
	// 2 minutes).
	Length time.Duration
	// WaitingRole, when set, has the client join in it before the doctor
	// and be admitted (a role change to guest) once the doctor is in.
	WaitingRole string
}

// Asset is a recording asset 100ms keeps for a session (a room recording,
// a transcript, a summary), as its recording-assets API lists it.
type Asset struct {
	ID, Type, Path, SessionID string
	Duration                  int // seconds
	Size                      int64
	CreatedAt                 time.Time
}

// Consultation is one doctor-client video visit in an existing room, for a
// person watching the app rather than for a load: the session opens, the
// doctor and then the client join, the client's network drops and the
// client rejoins under a new peer id, both leave, the session closes, and
// then the room recording and its transcript arrive, with the current keys
// of 100ms's documentation (recording_path, session_stopped_at,
// transcript_*_asset_id, ...). The events are in time order; Sessions and
// Assets are what 100ms's REST API would then report.
func (g *Generator) Consultation(spec ConsultationSpec) (Room, []Asset) {
	if spec.Start.IsZero() {
		spec.Start = time.Now().UTC()
	}
	if spec.Length == 0 {
		spec.Length = 10 * time.Minute
	}
	spec.Length = max(spec.Length, 2*time.Minute)
	if spec.TemplateID == "" {
		spec.TemplateID = g.cfg.TemplateID
	}
	r := Room{ID: spec.RoomID, Name: spec.RoomName, TemplateID: spec.TemplateID, AppointmentID: spec.AppointmentID}
	sid := g.objectID()
	t0, length := spec.Start, spec.Length
	end := t0.Add(length)
	started := t0.Add(time.Duration(g.rng.IntN(1e9)) * time.Nanosecond)
	stopped := end.Add(time.Duration(g.rng.IntN(1e9)) * time.Nanosecond)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	add := func(at time.Time, typ string, data obj) { g.add(&r, sid, at, typ, data) }
	common := func(d obj) obj { return append(d, kv{"session_started_at", ts(started)}) }
	// Times within the session scale with its length.
	at := func(frac float64) time.Time { return t0.Add(time.Duration(frac * float64(length))) }

	add(t0, "session.open.success", common(obj{
		{"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
	}))
	doctor := peer{id: g.uuid(), user: spec.DoctorUID, name: "Doctor", role: "host", join: t0.Add(3 * time.Second), leave: end.Add(-2 * time.Second)}
	dropped := peer{id: g.uuid(), user: spec.ClientUID, name: "Client", role: "guest", join: t0.Add(20 * time.Second), leave: at(0.4)}
	rejoined := peer{id: g.uuid(), user: spec.ClientUID, name: "Client", role: "guest", join: at(0.4).Add(15 * time.Second), leave: end.Add(-6 * time.Second)}
	joinEv := func(p peer) {
		add(p.join, "peer.join.success", common(obj{
			{"joined_at", ts(p.join)}, {"peer_id", p.id}, {"role", p.role}, {"room_id", r.ID},
			{"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
			{"user_id", p.user}, {"user_name", p.name}, {"user_data", ""},
		}))
	}
	leaveEv := func(p peer, reason string) {
		add(p.leave, "peer.leave.success", common(obj{
			{"duration", int(p.leave.Sub(p.join).Seconds())}, {"joined_at", ts(p.join)}, {"left_at", ts(p.leave)},
			{"peer_id", p.id}, {"reason", reason}, {"role", p.role}, {"room_id", r.ID},
			{"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID}, {"type", "regular"},
			{"user_id", p.user}, {"user_name", p.name}, {"user_data", ""},
		}))
	}
	if spec.WaitingRole != "" {
		// The patient arrives first and waits; the doctor joins late and
		// admits them.
		dropped.role, dropped.join, doctor.join = spec.WaitingRole, t0.Add(3*time.Second), t0.Add(40*time.Second)
	}
	joinEv(doctor)
	joinEv(dropped)
	if spec.WaitingRole != "" {
		admitted := doctor.join.Add(10 * time.Second)
		add(admitted, "role.change.success", common(obj{
			{"joined_at", ts(dropped.join)}, {"peer_id", dropped.id}, {"previous_role", spec.WaitingRole}, {"role", "guest"},
			{"role_changed_at", ts(admitted)}, {"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid},
			{"template_id", r.TemplateID}, {"user_id", dropped.user}, {"user_name", dropped.name}, {"user_data", ""},
		}))
		dropped.role = "guest" // what 100ms reports at the end
	}
	leaveEv(dropped, "network")
	joinEv(rejoined)
	leaveEv(rejoined, "client request")
	leaveEv(doctor, "client request")
	add(stopped, "session.close.success", common(obj{
		{"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid}, {"template_id", r.TemplateID},
		{"session_duration", int(stopped.Sub(started).Seconds())}, {"session_stopped_at", ts(stopped)},
	}))

	// The room recording, then its post-call transcription.
	recAt := stopped.Add(time.Minute)
	recAsset := Asset{ID: g.objectID(), Type: "room-composite", SessionID: sid, Duration: int(length.Seconds()),
		Size: int64(1_000_000 + g.rng.IntN(900_000_000)), CreatedAt: recAt,
		Path: "s3://bucket/" + r.ID + "/" + sid + "/Rec-" + sid + ".mp4"}
	add(recAt, "recording.success", common(obj{
		{"duration", recAsset.Duration}, {"room_id", r.ID}, {"room_name", r.Name}, {"session_id", sid},
		{"template_id", r.TemplateID}, {"recording_path", recAsset.Path},
		{"recording_presigned_url", "https://storage.example.com/" + recAsset.ID + ".mp4?sig=" + g.objectID()},
		{"size", recAsset.Size}, {"session_stopped_at", ts(stopped)},
	}))
	assets := []Asset{recAsset}
	recordingID, transcriptionID := g.objectID(), g.objectID()
	trHead := func(at time.Time) obj {
		return obj{
			{"account_id", accountID}, {"app_id", appID}, {"metadata_id", g.uuid()}, {"metadata_timestamp", ts(at)},
			{"recording_id", recordingID}, {"room_id", r.ID}, {"room_name", r.Name},
			{"transcription_id", transcriptionID}, {"session_id", sid}, {"duration", int(length.Seconds())},
		}
	}
	trStart, trDone := recAt.Add(10*time.Second), recAt.Add(70*time.Second)
	names := []struct{ key, typ, ext string }{
		{"summary_json", "summary", "json"}, {"transcript_json", "transcript", "json"},
		{"transcript_srt", "transcript", "srt"}, {"transcript_txt", "transcript", "txt"},
	}
	started2 := trHead(trStart)
	done := trHead(trDone)
	for _, n := range names {
		a := Asset{ID: g.objectID(), Type: n.typ, SessionID: sid, CreatedAt: trDone, Size: int64(2_000 + g.rng.IntN(50_000)),
			Path: "s3://bucket/" + r.ID + "/" + sid + "/" + n.key + "." + n.ext}
		assets = append(assets, a)
		started2 = append(started2, kv{n.key + "_asset_id", a.ID})
		done = append(done, kv{n.key + "_asset_id", a.ID}, kv{n.key + "_path", a.Path},
			kv{n.key + "_presigned_url", "https://storage.example.com/" + a.ID + "." + n.ext + "?sig=" + g.objectID()})
	}
	add(trStart, "transcription.started.success", started2)
	add(trDone, "transcription.success", done)
	Sort(r.Events)

	known := Session{ID: sid, StartedAt: started, EndedAt: stopped}
	for _, p := range []peer{doctor, dropped, rejoined} {
		known.Peers = append(known.Peers, Peer{ID: p.id, UserID: p.user, Name: p.name, Role: p.role, JoinedAt: p.join, LeftAt: p.leave})
	}
	r.Sessions = []Session{known}
	return r, assets
}
