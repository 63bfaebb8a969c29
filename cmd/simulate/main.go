// Command simulate plays one realistic consultation for an appointment
// through the local webhook, as scripts/simulate runs it: the session
// opens, the doctor and the client join, the client's network drops and
// the client rejoins, both leave, the session closes, and the recording and
// its transcript arrive. The events come from internal/sessiongen, the
// generator the load tests use, in the room hmsToken created for the
// appointment (calls/{id}.roomId), and are posted in real time or faster
// (-speed), signed as 100ms signs them. After each event it prints what the
// app would see: calls/{id} read back from the Firestore emulator.
//
// It asks the server scripts/dev runs (GET /_local/ready) for the project
// and the Firestore emulator, and, under --fake-100ms, records the session
// and its recording assets in the fake 100ms, so that the webhook's
// reconciliation and hmsRecordingUrl find them as they would at 100ms.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/sessiongen"
)

// fakeWebhookSecret is the header secret scripts/dev --fake-100ms gives the
// webhook when HMS_WEBHOOK_SECRET is not set (cmd/local's fakeDefaults).
const fakeWebhookSecret = "local-webhook-secret"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	appointment string
	speed       float64
	base        string
	length      time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := envOr("PORT", "8080")
	var o options
	fs.Float64Var(&o.speed, "speed", 1, "how much faster than real time to play (60: a minute a second)")
	fs.StringVar(&o.base, "url", "http://localhost:"+port, "the functions server scripts/dev runs")
	fs.DurationVar(&o.length, "length", 10*time.Minute, "how long the session lasts, in its own (real) time")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: scripts/simulate [flags] APPOINTMENT_ID\n\n"+
			"Plays a consultation for the appointment's room (the one hmsToken created: call it\n"+
			"first) through the local webhook, and prints calls/APPOINTMENT_ID after each event.\n\nflags:\n")
		fs.PrintDefaults()
	}
	// The appointment may come before or after the flags.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != 1 || o.speed <= 0 {
		fs.Usage()
		return 2
	}
	o.appointment = rest[0]
	o.base = strings.TrimRight(o.base, "/")
	if err := simulate(context.Background(), o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "simulate:", err)
		return 1
	}
	return 0
}

// ready is the part of the server's /_local/ready answer used here.
type ready struct {
	Project     string `json:"project"`
	Firestore   string `json:"firestore"`
	Fake100ms   string `json:"fake100ms"`
	WaitingRole string `json:"waitingRole"`
}

func simulate(ctx context.Context, o options, stdout, stderr io.Writer) error {
	client := &http.Client{Timeout: 20 * time.Second}
	var info ready
	if err := getJSON(client, o.base+"/_local/ready", &info); err != nil {
		return fmt.Errorf("the local server at %s does not answer (start scripts/dev --fake-100ms first): %w", o.base, err)
	}
	if h := os.Getenv("FIRESTORE_EMULATOR_HOST"); h != "" {
		info.Firestore = h
	}
	if info.Firestore == "" {
		return errors.New("no Firestore emulator known: set FIRESTORE_EMULATOR_HOST")
	}
	// The Firestore client talks to the emulator, as the Admin SDK would.
	os.Setenv("FIRESTORE_EMULATOR_HOST", info.Firestore)
	db, err := firestore.NewClient(ctx, info.Project)
	if err != nil {
		return fmt.Errorf("firestore: %w", err)
	}
	defer db.Close()

	appt, err := db.Collection("appointments").Doc(o.appointment).Get(ctx)
	if err != nil {
		return fmt.Errorf("appointments/%s (project %s): %w", o.appointment, info.Project, err)
	}
	call, err := db.Collection("calls").Doc(o.appointment).Get(ctx)
	if call != nil && !call.Exists() {
		return fmt.Errorf("calls/%s does not exist: call hmsToken for this appointment first, it creates the room", o.appointment)
	}
	if err != nil {
		return fmt.Errorf("calls/%s: %w", o.appointment, err)
	}
	str := func(d *firestore.DocumentSnapshot, k string) string { v, _ := d.Data()[k].(string); return v }
	spec := sessiongen.ConsultationSpec{
		AppointmentID: o.appointment, RoomID: str(call, "roomId"), RoomName: str(call, "roomName"),
		TemplateID: str(call, "templateId"), DoctorUID: str(appt, "doctorId"), ClientUID: str(appt, "clientId"),
		Start: time.Now().UTC(), Length: o.length, WaitingRole: info.WaitingRole,
	}
	if spec.RoomID == "" {
		return fmt.Errorf("calls/%s has no roomId: call hmsToken for this appointment first", o.appointment)
	}
	room, assets := sessiongen.New(sessiongen.Config{Seed: uint64(time.Now().UnixNano())}).Consultation(spec)

	header := envOr("HMS_WEBHOOK_HEADER", "X-Webhook-Secret")
	secret := firstOf(os.Getenv("HMS_WEBHOOK_SECRET"))
	if secret == "" {
		secret = fakeWebhookSecret
	}
	signing := firstOf(os.Getenv("HMS_WEBHOOK_SIGNING_SECRET"))
	fake := info.Fake100ms != ""
	fmt.Fprintf(stdout, "appointment %s, room %s, session %s: %d events at %gx (project %s)\n",
		o.appointment, spec.RoomID, room.Sessions[0].ID, len(room.Events), o.speed, info.Project)
	if !fake {
		fmt.Fprintln(stderr, "simulate: warning: the server runs against 100ms's API, not --fake-100ms: 100ms knows nothing of this session")
	}

	sess := room.Sessions[0]
	t0 := room.Events[0].At
	start := time.Now()
	for _, ev := range room.Events {
		if wait := time.Until(start.Add(time.Duration(float64(ev.At.Sub(t0)) / o.speed))); wait > 0 {
			time.Sleep(wait)
		}
		if fake {
			if err := tellFake(client, o.base, ev, sess, assets); err != nil {
				return err
			}
		}
		code, body, err := post(client, o.base+"/hmssWebhook", header, secret, signing, ev.Body)
		if err != nil {
			return fmt.Errorf("post %s: %w", ev.Type, err)
		}
		fmt.Fprintf(stdout, "[%s] %-30s %-28s -> %d\n", clock(ev.At.Sub(t0)), ev.Type, describe(ev, spec), code)
		if code/100 != 2 {
			return fmt.Errorf("the webhook answered %d to %s: %s", code, ev.Type, strings.TrimSpace(body))
		}
		view, err := appView(ctx, db, o.appointment, spec.DoctorUID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%10s calls/%s: %s\n", "", o.appointment, view)
	}
	return nil
}

// tellFake records in the fake 100ms what 100ms would know when ev is sent:
// the session (open, then closed with its peers, before the close event
// whose reconciliation asks for it) and the assets.
func tellFake(client *http.Client, base string, ev sessiongen.Event, s sessiongen.Session, assets []sessiongen.Asset) error {
	type peer struct {
		ID, Name, Role, UserID string
		JoinedAt, LeftAt       time.Time
	}
	type session struct {
		ID, RoomID           string
		Active               bool
		CreatedAt, UpdatedAt time.Time
		Peers                []peer
	}
	switch ev.Type {
	case "session.open.success", "session.close.success":
		v := session{ID: s.ID, RoomID: ev.RoomID, Active: ev.Type == "session.open.success", CreatedAt: s.StartedAt, UpdatedAt: ev.At}
		if !v.Active {
			v.UpdatedAt = s.EndedAt
			for _, p := range s.Peers {
				v.Peers = append(v.Peers, peer{p.ID, p.Name, p.Role, p.UserID, p.JoinedAt, p.LeftAt})
			}
		}
		return postLocal(client, base+"/_local/fake100ms/sessions", v)
	case "recording.success", "transcription.success":
		for _, a := range assets {
			if (a.Type == "room-composite") != (ev.Type == "recording.success") {
				continue
			}
			v := map[string]any{"ID": a.ID, "RoomID": ev.RoomID, "SessionID": a.SessionID, "Type": a.Type,
				"Path": a.Path, "Duration": a.Duration, "Size": a.Size, "CreatedAt": a.CreatedAt}
			if err := postLocal(client, base+"/_local/fake100ms/assets", v); err != nil {
				return err
			}
		}
	}
	return nil
}

func postLocal(client *http.Client, url string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("fake 100ms: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("fake 100ms: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// describe says in a few words what an event means for the people in it.
func describe(ev sessiongen.Event, spec sessiongen.ConsultationSpec) string {
	var m struct {
		Data map[string]any `json:"data"`
	}
	_ = json.Unmarshal(ev.Body, &m)
	who := "client"
	if m.Data["user_id"] == spec.DoctorUID {
		who = "doctor"
	}
	switch ev.Type {
	case "peer.join.success":
		if r, _ := m.Data["role"].(string); r != "host" && r != "guest" {
			return who + " waits (" + r + ")"
		}
		return who + " joins"
	case "role.change.success":
		return who + " admitted (hmsAdmit)"
	case "peer.leave.success":
		if m.Data["reason"] == "network" {
			return who + " drops (network)"
		}
		return who + " leaves"
	case "session.open.success":
		return "the call starts"
	case "session.close.success":
		return "the call ends"
	case "recording.success":
		return "recording ready"
	case "transcription.started.success":
		return "transcription starts"
	case "transcription.success":
		return "transcript ready"
	}
	return ""
}

// appView is the call as the app's listeners see it: calls/{id}, who is in
// the session now, and the recordings and transcripts.
func appView(ctx context.Context, db *firestore.Client, appt, doctorUID string) (string, error) {
	doc := db.Collection("calls").Doc(appt)
	call, err := doc.Get(ctx)
	if err != nil {
		return "", fmt.Errorf("read calls/%s: %w", appt, err)
	}
	d := call.Data()
	parts := []string{fmt.Sprintf("status=%v", d["status"])}
	if v, ok := d["activeSessionId"]; ok {
		parts = append(parts, fmt.Sprintf("activeSessionId=%v", v))
	}
	if v, ok := d["sessionCount"]; ok {
		parts = append(parts, fmt.Sprintf("sessionCount=%v", v))
	}
	for _, k := range []string{"startedAt", "endedAt"} {
		if t, ok := d[k].(time.Time); ok {
			parts = append(parts, k+"="+t.UTC().Format("15:04:05"))
		}
	}
	// Who is in the call, as the backend keeps it (calls/{id}.inCall).
	inCall, _ := d["inCall"].(map[string]any)
	var in []string
	for uid, v := range inCall {
		who := "client"
		if uid == doctorUID {
			who = "doctor"
		}
		role, _ := v.(map[string]any)["role"].(string)
		in = append(in, who+":"+role)
	}
	sort.Strings(in)
	parts = append(parts, fmt.Sprintf("inCall=[%s]", strings.Join(in, " ")))
	if v, ok := d["visit"].(map[string]any); ok && d["status"] == "ended" {
		parts = append(parts, fmt.Sprintf("visit: together=%vs wait=%vs", v["togetherSec"], v["waitSec"]))
	}
	for _, sub := range []string{"recordings", "transcripts"} {
		docs, err := doc.Collection(sub).Documents(ctx).GetAll()
		if err != nil {
			return "", fmt.Errorf("read calls/%s/%s: %w", appt, sub, err)
		}
		for _, r := range docs {
			parts = append(parts, fmt.Sprintf("%s/%s=%v", sub, r.Ref.ID, r.Data()["status"]))
		}
	}
	return strings.Join(parts, " "), nil
}

// post sends one webhook body with the header secret, and the signature
// when a signing secret is configured (docs/webhook.md).
func post(client *http.Client, url, header, secret, signing string, body []byte) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "videocalls-simulate")
	req.Header.Set(header, secret)
	if signing != "" {
		mac := hmac.New(sha256.New, []byte(signing))
		mac.Write(body)
		req.Header.Set("x-100ms-signature", hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(b), nil
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func firstOf(list string) string {
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
