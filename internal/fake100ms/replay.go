package fake100ms

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

func (s *Server) replay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		StartTime  string   `json:"start_time"`
		EndTime    string   `json:"end_time"`
		RoomID     string   `json:"room_id"`
		EventNames []string `json:"event_names"`
		Limit      int      `json:"limit"`
		Offset     int      `json:"offset"`
		Status     string   `json:"status"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		answerError(w, http.StatusBadRequest, "invalid body")
		return
	}
	start, end, err := window(req.StartTime, req.EndTime, time.Now())
	if err != nil {
		answerError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := ReplayFilters{StartTime: start, EndTime: end, RoomID: req.RoomID, EventNames: req.EventNames,
		Status: cmp.Or(req.Status, "failed"), Limit: cmp.Or(req.Limit, maxReplay), Offset: req.Offset}
	if f.Limit < 0 || f.Limit > maxReplay || f.Offset < 0 || !slices.Contains([]string{"all", "failed", "success"}, f.Status) {
		answerError(w, http.StatusBadRequest, "invalid limit, offset or status")
		return
	}
	// Identical filters as sent (not the defaults, "now" moves).
	req.Status, req.Limit = f.Status, f.Limit
	key, _ := json.Marshal(req)

	s.mu.Lock()
	defer s.mu.Unlock()
	if running := s.running[string(key)]; running != nil {
		answer(w, replayAnswer(running, "already_running", "An identical replay is already in progress"))
		return
	}
	var picked []*delivery
	for _, d := range s.deliveries {
		if matchStatus(d, f.Status) && !d.at.Before(start) && !d.at.After(end) &&
			(f.RoomID == "" || d.roomID == f.RoomID) &&
			(len(f.EventNames) == 0 || slices.Contains(f.EventNames, d.eventName)) {
			picked = append(picked, d)
		}
	}
	picked = picked[min(f.Offset, len(picked)):]
	picked = picked[:min(f.Limit, len(picked))]
	rp := &Replay{WorkflowID: fmt.Sprintf("webhook-replay-fake-%s", randomHex(4)), Status: "Running", Total: len(picked), Filters: f}
	s.replays = append(s.replays, rp)
	s.running[string(key)] = rp
	s.wg.Add(1)
	go s.runReplay(rp, string(key), picked, s.webhookURL, s.webhookHeader.Clone(), s.replayInterval)
	answer(w, replayAnswer(rp, "started", "Webhook replay has been queued for processing"))
}

// maxReplay is 100ms's most webhooks per replay request.
const maxReplay = 50000

func replayAnswer(rp *Replay, status, msg string) map[string]any {
	names := rp.Filters.EventNames
	if names == nil {
		names = []string{}
	}
	return map[string]any{"workflow_id": rp.WorkflowID, "status": status, "message": msg,
		"filters": map[string]any{"start_time": rp.Filters.StartTime.Format(time.RFC3339),
			"end_time": rp.Filters.EndTime.Format(time.RFC3339), "room_id": rp.Filters.RoomID,
			"event_types": names}}
}

// runReplay re-sends each picked delivery at the pace, as 100ms's workflow
// does, and records the outcome.
func (s *Server) runReplay(rp *Replay, key string, picked []*delivery, url string, header http.Header, interval time.Duration) {
	defer s.wg.Done()
	tick := time.NewTicker(max(interval, time.Microsecond))
	defer tick.Stop()
	for i, d := range picked {
		if i > 0 {
			select {
			case <-s.ctx.Done():
			case <-tick.C:
			}
		}
		ok := s.ctx.Err() == nil && url != "" && s.deliver(url, header, d.body)
		s.mu.Lock()
		if ok {
			rp.Completed++
			d.failed, d.at = false, time.Now().UTC()
		} else {
			rp.Failed++
			rp.FailedEvents = append(rp.FailedEvents, d.eventID)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case rp.Failed == 0:
		rp.Status = "completed"
	case rp.Completed == 0:
		rp.Status = "failed"
	default:
		rp.Status = "completed_with_failures"
	}
	delete(s.running, key)
}

// deliver posts one replayed webhook; true when the endpoint took it (2xx).
func (s *Server) deliver(url string, header http.Header, body []byte) bool {
	return s.post(url, header, markReplay(body)) == ""
}

// markReplay sets "is_replay": true in a webhook envelope, keeping the rest
// of the body byte for byte when it has no such key yet.
func markReplay(body []byte) []byte {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return body
	}
	if _, has := env["is_replay"]; has {
		env["is_replay"] = json.RawMessage("true")
		out, _ := json.Marshal(env)
		return out
	}
	if len(env) == 0 {
		return []byte(`{"is_replay":true}`)
	}
	rest := body[bytes.IndexByte(body, '{')+1:]
	return append([]byte(`{"is_replay":true,`), rest...)
}

func (s *Server) replayStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rp := range s.replays {
		if rp.WorkflowID == r.PathValue("id") {
			answer(w, map[string]any{"workflow_id": rp.WorkflowID, "status": rp.Status,
				"filters":  replayAnswer(rp, "", "")["filters"],
				"progress": map[string]any{"total": rp.Total, "completed": rp.Completed, "failed": rp.Failed},
				"result": map[string]any{"total": rp.Total, "completed": rp.Completed, "failed": rp.Failed,
					"failed_events": append([]string{}, rp.FailedEvents...)}})
			return
		}
	}
	answerError(w, http.StatusNotFound, "workflow not found")
}
