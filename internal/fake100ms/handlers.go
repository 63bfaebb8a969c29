package fake100ms

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern string, h func(http.ResponseWriter, *http.Request)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.calls[pattern]++
			s.mu.Unlock()
			h(w, r)
		})
	}
	handle("POST /rooms", s.createRoom)
	handle("POST /rooms/{id}", s.enableRoom)
	handle("POST /active-rooms/{id}/end-room", s.endRoom)
	handle("GET /active-rooms/{id}/peers", s.listActivePeers)
	handle("GET /active-rooms/{id}/peers/{peer}", s.getActivePeer)
	handle("POST /active-rooms/{id}/peers/{peer}", s.updatePeer)
	handle("POST /active-rooms/{id}/remove-peers", s.removePeers)
	handle("POST /recordings/room/{id}/start", s.startRecording)
	handle("POST /recordings/room/{id}/stop", s.stopRecording)
	handle("GET /sessions", s.listSessions)
	handle("GET /sessions/{id}", s.getSession)
	handle("GET /recording-assets", s.listAssets)
	handle("GET /recording-assets/{id}", s.getAsset)
	handle("GET /recording-assets/{id}/presigned-url", s.presign)
	handle("GET /analytics/webhooks", s.listDeliveries)
	handle("POST /analytics/webhooks/replay", s.replay)
	handle("GET /analytics/webhooks/replay/{id}", s.replayStatus)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			answerError(w, http.StatusServiceUnavailable, "service unavailable")
			return
		}
		if d := time.Duration(s.slow.Load()); d > 0 {
			// Read the body first: only then does the server notice a
			// client that gave up, and end r.Context().
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		if ok {
			s.bearers[raw] = true
		}
		s.mu.Unlock()
		if !ok || s.checkToken(raw) != nil {
			s.mu.Lock()
			s.authFailures++
			s.mu.Unlock()
			answerError(w, http.StatusUnauthorized, "token validation error")
			return
		}
		if p, ok := strings.CutPrefix(r.URL.Path, "/v2/"); ok {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + p
			r2.URL.RawPath = ""
			r = r2
		}
		mux.ServeHTTP(w, r)
	})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func answerError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": status, "message": msg})
}

// stamp writes a time as 100ms does; a zero time is left out by the callers.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func roomJSON(r *Room) map[string]any {
	return map[string]any{
		"id": r.ID, "name": r.Name, "enabled": r.Enabled, "description": r.Description,
		"template_id": r.TemplateID, "region": r.Region, "customer_id": "fake-customer",
		"created_at": stamp(r.CreatedAt), "updated_at": stamp(r.UpdatedAt),
	}
}

var roomName = regexp.MustCompile(`^[a-zA-Z0-9.:_-]+$`)

func (s *Server) createRoom(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		TemplateID  string `json:"template_id"`
		Region      string `json:"region"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		answerError(w, http.StatusBadRequest, "invalid body")
		return
	}
	if req.Name != "" && !roomName.MatchString(req.Name) {
		answerError(w, http.StatusBadRequest, "invalid room name")
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Name == "" {
		req.Name = "room-" + randomHex(6)
	}
	room := s.rooms[s.roomIDs[strings.ToLower(req.Name)]]
	if room == nil || s.newRooms.Load() {
		room = &Room{ID: s.newID("room"), Name: req.Name, Enabled: true, CreatedAt: now}
		s.rooms[room.ID] = room
		s.roomIDs[strings.ToLower(req.Name)] = room.ID
	}
	// An existing name updates the room with what the request sets.
	room.Description = cmp.Or(req.Description, room.Description)
	room.TemplateID = cmp.Or(req.TemplateID, room.TemplateID)
	room.Region = cmp.Or(req.Region, room.Region)
	room.UpdatedAt = now
	s.roomRequests++
	answer(w, roomJSON(room))
}

func (s *Server) enableRoom(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Enabled == nil {
		answerError(w, http.StatusBadRequest, "enabled is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[r.PathValue("id")]
	if room == nil {
		answerError(w, http.StatusNotFound, "room not found")
		return
	}
	room.Enabled = *req.Enabled
	room.UpdatedAt = time.Now().UTC()
	answer(w, roomJSON(room))
}

func (s *Server) endRoom(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
		Lock   bool   `json:"lock"`
	}
	if body, _ := io.ReadAll(r.Body); len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			answerError(w, http.StatusBadRequest, "invalid body")
			return
		}
	}
	id := r.PathValue("id")
	now := time.Now().UTC()
	var hooks []hook
	defer func() { s.send(hooks) }() // after the answer and the unlock
	s.mu.Lock()
	defer s.mu.Unlock()
	ended := false
	for _, sess := range s.sessions {
		if sess.RoomID != id || !sess.Active {
			continue
		}
		sess.Active, sess.UpdatedAt = false, now
		for i := range sess.Peers {
			if sess.Peers[i].LeftAt.IsZero() {
				sess.Peers[i].LeftAt = now
			}
		}
		s.ends = append(s.ends, EndRequest{RoomID: id, SessionID: sess.ID, Reason: req.Reason, Lock: req.Lock, At: now})
		ended = true
	}
	if !ended {
		// Undocumented by 100ms; see the package comment.
		answerError(w, http.StatusNotFound, "room is not active")
		return
	}
	if room := s.rooms[id]; room != nil && req.Lock {
		room.Enabled, room.UpdatedAt = false, now
	}
	if rec := s.recordings[id]; rec != nil {
		hooks = s.stopRecordingLocked(rec, "client request", now)
	}
	answer(w, map[string]any{"message": "session is ending"})
}

func sessionJSON(sess *Session) map[string]any {
	peers := map[string]any{}
	for _, p := range sess.Peers {
		pj := map[string]any{"id": p.ID, "session_id": sess.ID, "name": p.Name, "role": p.Role, "user_id": p.UserID,
			"joined_at": stamp(p.JoinedAt)}
		if !p.LeftAt.IsZero() {
			pj["left_at"] = stamp(p.LeftAt)
		}
		peers[p.ID] = pj
	}
	created := sessionStarted(sess)
	updated := cmp.Or(sess.UpdatedAt, created)
	return map[string]any{"id": sess.ID, "room_id": sess.RoomID, "customer_id": "fake-customer", "active": sess.Active,
		"peers": peers, "created_at": stamp(created), "updated_at": stamp(updated)}
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	s.sessionGets[id]++
	sess := s.sessions[id]
	var body map[string]any
	if sess != nil {
		body = sessionJSON(sess)
	}
	s.mu.Unlock()
	if sess == nil {
		answerError(w, http.StatusNotFound, "session not found")
		return
	}
	answer(w, body)
}

// page applies 100ms's cursor pagination: items after the one whose id is
// start, at most limit of them.
func page[T any](items []T, id func(T) string, start string, limit int) ([]T, string) {
	if start != "" {
		i := slices.IndexFunc(items, func(t T) bool { return id(t) == start })
		items = items[i+1:] // not found: i = -1, from the start
		if i < 0 {
			items = nil
		}
	}
	if len(items) > limit {
		items = items[:limit]
	}
	last := ""
	if len(items) > 0 {
		last = id(items[len(items)-1])
	}
	return items, last
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be between %d and %d", name, lo, hi)
	}
	return n, nil
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	active := true // 100ms's default
	if v := q.Get("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			answerError(w, http.StatusBadRequest, "active must be true or false")
			return
		}
		active = b
	}
	limit, err := intParam(r, "limit", 10, 10, 100)
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	var list []*Session
	for _, sess := range s.sessions {
		if sess.Active == active && (q.Get("room_id") == "" || sess.RoomID == q.Get("room_id")) {
			list = append(list, sess)
		}
	}
	// Newest first, as 100ms's sample lists them.
	slices.SortFunc(list, func(a, b *Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	list, last := page(list, func(s *Session) string { return s.ID }, q.Get("start"), limit)
	data := make([]any, 0, len(list))
	for _, sess := range list {
		data = append(data, sessionJSON(sess))
	}
	s.mu.Unlock()
	answer(w, map[string]any{"limit": limit, "data": data, "last": last})
}

func assetJSON(a *Asset) map[string]any {
	meta := a.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	return map[string]any{"id": a.ID, "job_id": a.JobID, "room_id": a.RoomID, "session_id": a.SessionID,
		"type": a.Type, "path": a.Path, "thumbnails": nil, "metadata": meta,
		"duration": a.Duration, "size": a.Size, "status": a.Status, "created_at": stamp(a.CreatedAt)}
}

func (s *Server) listAssets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(r, "limit", 10, 1, 100)
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	var list []*Asset
	for _, a := range s.assets {
		if (q.Get("room_id") == "" || a.RoomID == q.Get("room_id")) &&
			(q.Get("session_id") == "" || a.SessionID == q.Get("session_id")) &&
			(q.Get("status") == "" || a.Status == q.Get("status")) {
			list = append(list, a)
		}
	}
	slices.SortFunc(list, func(a, b *Asset) int { return strings.Compare(a.ID, b.ID) })
	list, last := page(list, func(a *Asset) string { return a.ID }, q.Get("start"), limit)
	data := make([]any, 0, len(list))
	for _, a := range list {
		data = append(data, assetJSON(a))
	}
	s.mu.Unlock()
	answer(w, map[string]any{"limit": limit, "data": data, "last": last})
}

func (s *Server) getAsset(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	a := s.assets[r.PathValue("id")]
	var body map[string]any
	if a != nil {
		body = assetJSON(a)
	}
	s.mu.Unlock()
	if a == nil {
		answerError(w, http.StatusNotFound, "asset not found")
		return
	}
	answer(w, body)
}

func (s *Server) presign(w http.ResponseWriter, r *http.Request) {
	expiry := 3 * 24 * 3600 // 100ms's default for S3 and GCS buckets
	if v := r.URL.Query().Get("presign_duration"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			answerError(w, http.StatusBadRequest, "presign_duration must be a positive number of seconds")
			return
		}
		expiry = n
	}
	s.mu.Lock()
	a := s.assets[r.PathValue("id")]
	s.mu.Unlock()
	if a == nil {
		answerError(w, http.StatusNotFound, "asset not found")
		return
	}
	// A fresh signature each time, as a real presigned URL has.
	url := fmt.Sprintf("%s/signed/%s?expires=%d&sig=%s", s.URL, a.ID, time.Now().Unix()+int64(expiry), randomHex(16))
	answer(w, map[string]any{"id": a.ID, "path": a.Path, "url": url, "expiry": expiry})
}

// window reads start_time and end_time with 100ms's defaults and limits.
func window(startS, endS string, now time.Time) (time.Time, time.Time, error) {
	start, end := now.Add(-24*time.Hour), now
	var err error
	if startS != "" {
		if start, err = time.Parse(time.RFC3339, startS); err != nil {
			return start, end, fmt.Errorf("start_time must be RFC3339")
		}
	}
	if endS != "" {
		if end, err = time.Parse(time.RFC3339, endS); err != nil {
			return start, end, fmt.Errorf("end_time must be RFC3339")
		}
	}
	if start.Before(now.Add(-30 * 24 * time.Hour)) {
		return start, end, fmt.Errorf("start_time must be within the last 30 days")
	}
	if !end.After(start) || end.Sub(start) > 14*24*time.Hour {
		return start, end, fmt.Errorf("end_time must be within 14 days after start_time")
	}
	return start, end, nil
}

func matchStatus(d *delivery, status string) bool {
	switch status {
	case "failed":
		return d.failed
	case "success":
		return !d.failed
	}
	return true
}

func deliveryJSON(d *delivery, webhookURL string) map[string]any {
	payload := map[string]any{"event_data": d.data, "webhook_url": webhookURL, "original_event_name": d.eventName}
	name := "reporter.webhook.delivery.success"
	if d.failed {
		name = "reporter.webhook.delivery.failed"
		payload["error_reason"] = d.reason
	}
	return map[string]any{"event_id": d.eventID, "event_name": name, "room_id": d.roomID,
		"event_timestamp": d.at.Format(time.RFC3339), "payload": payload}
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end, err := window(q.Get("start_time"), q.Get("end_time"), time.Now())
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	status := cmp.Or(q.Get("status"), "all")
	if status != "all" && status != "failed" && status != "success" {
		answerError(w, http.StatusBadRequest, "status must be all, failed or success")
		return
	}
	limit, err := intParam(r, "limit", 50, 1, 100)
	if err == nil {
		var pageNo int
		if pageNo, err = intParam(r, "page", 1, 1, 1<<30); err == nil {
			s.mu.Lock()
			var all []any
			for _, d := range s.deliveries {
				if matchStatus(d, status) && !d.at.Before(start) && !d.at.After(end) &&
					(q.Get("room_id") == "" || d.roomID == q.Get("room_id")) &&
					(len(q["event_names"]) == 0 || slices.Contains(q["event_names"], d.eventName)) {
					all = append(all, deliveryJSON(d, s.webhookURL))
				}
			}
			s.mu.Unlock()
			from := min((pageNo-1)*limit, len(all))
			events := all[from:min(from+limit, len(all))]
			pages := (len(all) + limit - 1) / limit
			answer(w, map[string]any{
				"events": append([]any{}, events...),
				"pagination": map[string]any{"current_page": pageNo, "page_size": limit, "total_pages": pages,
					"total_items": len(all), "has_next": pageNo < pages, "has_prev": pageNo > 1},
				"summary": map[string]any{"total_events": len(all)},
			})
			return
		}
	}
	answerError(w, http.StatusBadRequest, err.Error())
}
