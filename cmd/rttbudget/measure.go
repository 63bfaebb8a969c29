package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/rig"
)

// sample is one measured request.
type sample struct {
	elapsed time.Duration
	depth   int    // Firestore and Auth round trips in sequence
	hms     int    // calls to 100ms
	fcm     int    // calls to FCM
	chain   string // the calls, level by level
}

// measurer sends requests one at a time and reads the proxies' records of
// the calls each made: nothing else runs meanwhile, so every call that
// started during a request is that request's.
type measurer struct {
	w       *rig.World
	client  *http.Client
	samples map[string][]sample
	record  bool
}

func (m *measurer) measure(row string, do func() error) error {
	start := time.Now()
	if err := do(); err != nil {
		return fmt.Errorf("%s: %w", row, err)
	}
	elapsed := time.Since(start)
	if !m.record {
		return nil
	}
	var all, delayed []delayproxy.Call
	hms, fcm := 0, 0
	for _, px := range []struct {
		p      *delayproxy.Proxy
		prefix string
	}{{m.w.FS, "Firestore "}, {m.w.Auth, "Auth "}, {m.w.HMS, "100ms "}, {m.w.FCMProxy, "FCM "}} {
		for _, c := range px.p.Calls(start) {
			c.Name = px.prefix + shortName(c.Name)
			all = append(all, c)
			switch px.p {
			case m.w.HMS:
				hms++
			case m.w.FCMProxy:
				fcm++
			default:
				delayed = append(delayed, c)
			}
		}
	}
	m.samples[row] = append(m.samples[row], sample{elapsed: elapsed, depth: delayproxy.Depth(delayed), hms: hms, fcm: fcm, chain: chain(all)})
	return nil
}

// shortName keeps the last part of a gRPC method or a REST path:
// "BatchGetDocuments", "POST accounts:lookup", "POST rooms".
func shortName(name string) string {
	method, path, isHTTP := strings.Cut(name, " ")
	if !isHTTP {
		path, method = name, ""
	}
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	path = segs[len(segs)-1]
	if len(segs) > 1 && isID(path) {
		// GET /v2/sessions/<id>: the collection names the call.
		path = segs[len(segs)-2] + "/{id}"
	}
	if method != "" {
		return method + " " + path
	}
	return path
}

// isID reports whether a path segment is a 100ms object id (24 hex digits).
func isID(s string) bool {
	if len(s) < 16 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// chain lists calls by their level in the longest chain: "a + b → c".
func chain(calls []delayproxy.Call) string {
	levels := delayproxy.Levels(calls)
	var byLevel [][]string
	for i, c := range calls {
		for len(byLevel) < levels[i] {
			byLevel = append(byLevel, nil)
		}
		byLevel[levels[i]-1] = append(byLevel[levels[i]-1], c.Name)
	}
	parts := make([]string, len(byLevel))
	for i, l := range byLevel {
		parts[i] = strings.Join(l, " + ")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " → ")
}

// post sends body to url and decodes the JSON answer into out; any status
// but 200 is an error.
func (m *measurer) post(url string, header http.Header, body []byte, out any) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", url, resp.Status, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: decode answer %q: %w", url, raw, err)
	}
	return nil
}

// token calls hmsToken on s as the user with idToken.
func (m *measurer) token(s *rig.Server, idToken, appointmentID string) (roomID string, err error) {
	var out struct {
		Result struct {
			RoomID string `json:"roomId"`
			Token  string `json:"token"`
		} `json:"result"`
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"appointmentId": appointmentID}})
	if err := m.post(s.URL+"/hmsToken", http.Header{"Authorization": {"Bearer " + idToken}}, body, &out); err != nil {
		return "", err
	}
	if out.Result.RoomID == "" || out.Result.Token == "" {
		return "", fmt.Errorf("hmsToken answered no room or token")
	}
	return out.Result.RoomID, nil
}

// deliver posts a webhook event to s and checks its answer's status.
func (m *measurer) deliver(s *rig.Server, ev []byte, want string) error {
	var out struct {
		Status string `json:"status"`
	}
	if err := m.post(s.URL+"/hmssWebhook", http.Header{"X-Webhook-Secret": {m.w.WebhookSecret}}, ev, &out); err != nil {
		return err
	}
	if out.Status != want {
		return fmt.Errorf("webhook answered %q, want %q", out.Status, want)
	}
	return nil
}

// users are the doctor and the client of every appointment.
type users struct{ doctorUID, doctorToken, clientUID, clientToken string }

// appointment runs one appointment's requests, in the order a real call
// makes them, each row named as in the report.
func (m *measurer) appointment(ctx context.Context, fs *firestore.Client, u users, id string) error {
	now := time.Now()
	if _, err := fs.Collection("appointments").Doc(id).Set(ctx, map[string]any{
		"doctorId": u.doctorUID, "clientId": u.clientUID, "status": "scheduled",
		"startAt": now.Add(-time.Minute), "endAt": now.Add(time.Hour),
	}); err != nil {
		return setupErr("write appointment %s: %w", id, err)
	}
	a, b := m.w.Servers[0], m.w.Servers[1]
	var room string
	if err := m.measure(rowTokenFirst, func() (err error) { room, err = m.token(a, u.doctorToken, id); return err }); err != nil {
		return err
	}
	for _, tok := range []string{u.doctorToken, u.clientToken} {
		if err := m.measure(rowTokenWarm, func() error { _, err := m.token(a, tok, id); return err }); err != nil {
			return err
		}
	}

	if err := m.measure(rowAdmit, func() error { return m.admit(a, u.doctorToken, id, u.clientUID) }); err != nil {
		return err
	}

	s := newSession(room, u)
	m.w.Fake.AddSession(fake100ms.Session{ID: s.id, RoomID: room, CreatedAt: s.opened, UpdatedAt: s.opened.Add(time.Minute),
		Peers: []fake100ms.Peer{
			{ID: s.doctorPeer, Name: "Dr Test", Role: "host", UserID: u.doctorUID, JoinedAt: s.opened, LeftAt: s.opened.Add(time.Minute)},
			{ID: s.clientPeer, Name: "Pat Client", Role: "guest", UserID: u.clientUID, JoinedAt: s.opened, LeftAt: s.opened.Add(time.Minute)},
		}})
	doctorJoin, clientJoin := s.join(s.doctorPeer, u.doctorUID, "host"), s.join(s.clientPeer, u.clientUID, "guest")
	steps := []struct {
		row  string
		to   *rig.Server
		body []byte
		want string
	}{
		// b has never seen this room: as in production, where the
		// instance that served hmsToken is rarely the one 100ms reaches.
		{rowFirstEvent, b, s.open(), "stored"},
		// The client is away: the doctor's join tells the client's phone.
		{rowJoinNotify, a, doctorJoin, "stored"},
		{rowJoin, a, clientJoin, "stored"},
		{rowRole, a, s.roleChange(s.clientPeer, u.clientUID, "co-host"), "stored"},
		{rowLeaveNoDuration, a, s.leave(s.clientPeer, u.clientUID, "co-host", false), "stored"},
		{rowLeaveDuration, a, s.leave(s.doctorPeer, u.doctorUID, "host", true), "stored"},
		{rowRedeliverSame, a, clientJoin, "duplicate"},
		{rowRedeliverOther, b, clientJoin, "duplicate"},
	}
	for _, st := range steps {
		if err := m.measure(st.row, func() error { return m.deliver(st.to, st.body, st.want) }); err != nil {
			return err
		}
	}
	// The doctor removes the client, who joins again with a token minted
	// before: the webhook enforces the removal.
	if err := m.measure(rowRemove, func() error { return m.remove(a, u.doctorToken, id, u.clientUID) }); err != nil {
		return err
	}
	rejoin := s.join(uuid(), u.clientUID, "guest")
	if err := m.measure(rowJoinRemoved, func() error { return m.deliver(a, rejoin, "stored") }); err != nil {
		return err
	}
	return m.measure(rowClose, func() error { return m.deliver(a, s.close(), "stored") })
}

// admit calls hmsAdmit on s as the doctor, admitting uid.
func (m *measurer) admit(s *rig.Server, idToken, appointmentID, uid string) error {
	var out struct {
		Result struct {
			Admitted string `json:"admitted"`
		} `json:"result"`
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"appointmentId": appointmentID, "uid": uid}})
	if err := m.post(s.URL+"/hmsAdmit", http.Header{"Authorization": {"Bearer " + idToken}}, body, &out); err != nil {
		return err
	}
	if out.Result.Admitted != uid {
		return fmt.Errorf("hmsAdmit answered no admission")
	}
	return nil
}

// remove calls hmsRemove on s as the doctor, removing uid.
func (m *measurer) remove(s *rig.Server, idToken, appointmentID, uid string) error {
	var out struct {
		Result struct {
			Removed string `json:"removed"`
		} `json:"result"`
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"appointmentId": appointmentID, "uid": uid, "action": "remove"}})
	if err := m.post(s.URL+"/hmsRemove", http.Header{"Authorization": {"Bearer " + idToken}}, body, &out); err != nil {
		return err
	}
	if out.Result.Removed != uid {
		return fmt.Errorf("hmsRemove answered no removal")
	}
	return nil
}

// session makes the webhook bodies of one 100ms session, shaped as
// internal/sessiongen's (100ms's documented samples).
type session struct {
	room, id, name         string
	doctorPeer, clientPeer string
	opened                 time.Time
}

func newSession(room string, u users) *session {
	return &session{room: room, id: rig.RandomHex(12), name: rig.Project + "-room", doctorPeer: uuid(), clientPeer: uuid(),
		opened: time.Now().UTC().Truncate(time.Millisecond)}
}

func uuid() string {
	h := rig.RandomHex(16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:]
}

func (s *session) event(typ string, data map[string]any) []byte {
	data["room_id"], data["room_name"], data["session_id"] = s.room, s.name, s.id
	data["template_id"], data["session_started_at"] = "rttbudget-template", s.opened.Format(time.RFC3339Nano)
	body, _ := json.Marshal(map[string]any{
		"version": "2.0", "id": uuid(), "account_id": "6564a09aa2ad2e4f1e0d00ac",
		"timestamp": time.Now().UTC().Format(time.RFC3339), "type": typ, "data": data,
	})
	return body
}

func (s *session) open() []byte { return s.event("session.open.success", map[string]any{}) }

func (s *session) close() []byte {
	return s.event("session.close.success", map[string]any{
		"session_stopped_at": s.opened.Add(time.Minute).Format(time.RFC3339Nano), "session_duration": 60,
	})
}

func (s *session) peer(peerID, uid, role string) map[string]any {
	return map[string]any{"peer_id": peerID, "user_id": uid, "user_name": "Test", "user_data": "", "role": role,
		"joined_at": s.opened.Format(time.RFC3339Nano)}
}

func (s *session) join(peerID, uid, role string) []byte {
	return s.event("peer.join.success", s.peer(peerID, uid, role))
}

func (s *session) roleChange(peerID, uid, role string) []byte {
	return s.event("role.change.success", s.peer(peerID, uid, role))
}

func (s *session) leave(peerID, uid, role string, withDuration bool) []byte {
	d := s.peer(peerID, uid, role)
	delete(d, "joined_at")
	d["left_at"] = s.opened.Add(time.Minute).Format(time.RFC3339Nano)
	d["reason"] = "client request"
	if withDuration {
		d["duration"] = 60
	}
	return s.event("peer.leave.success", d)
}
