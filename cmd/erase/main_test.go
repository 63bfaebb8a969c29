package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/storage"
	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// consultation is one erasable consultation on the emulators.
type consultation struct {
	appt, bucket string
	objects      []string
	fs           *firestore.Client
	gcs          *storage.Client
}

const patientName = "Jane Q. Patient"

func seed(t *testing.T, hold bool) *consultation {
	t.Helper()
	emulatortest.Firestore(t)
	emulatortest.Storage(t)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, "demo-erase")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fs.Close() })
	gcs, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gcs.Close() })
	c := &consultation{appt: "appt-" + uuid.NewString()[:8], bucket: "clinic-" + uuid.NewString()[:8], fs: fs, gcs: gcs}
	if err := gcs.Bucket(c.bucket).Create(ctx, "demo-erase", nil); err != nil {
		t.Fatal(err)
	}
	c.objects = []string{c.appt + "/s1/composite.mp4", c.appt + "/s1/chat.csv", c.appt + "/s1/t.txt"}
	for _, o := range c.objects {
		w := gcs.Bucket(c.bucket).Object(o).NewWriter(ctx)
		_, _ = io.WriteString(w, "x")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	gs := func(o string) string { return "gs://" + c.bucket + "/" + o }
	docs := map[string]map[string]any{
		"appointments/" + c.appt: {"doctorId": "d1", "clientId": "c1", "legalHold": hold},
		"calls/" + c.appt: {"appointmentId": c.appt, "status": "ended", "roomId": "room-" + c.appt,
			"visit": map[string]any{"doctorSec": 600, "clientSec": 590}},
		"calls/" + c.appt + "/sessions/s1": {"status": "closed", "peers": map[string]any{
			"p1": map[string]any{"userId": "c1", "userName": patientName, "role": "guest"},
			"p2": map[string]any{"userId": "d1", "userName": "Dr. Who", "role": "host"}}},
		"calls/" + c.appt + "/recordings/sfu-s1": {"kind": "sfu", "status": "success", "location": gs(c.objects[0]),
			"chatLocation": gs(c.objects[1]), "url": "https://hms.example/presigned", "createdAt": time.Now()},
		"calls/" + c.appt + "/recordings/sfu-s0": {"kind": "sfu", "status": "success", "location": "s3://hms/x.mp4", "createdAt": time.Now()},
		"calls/" + c.appt + "/transcripts/tr1": {"status": "success", "createdAt": time.Now(),
			"transcriptTxt": map[string]any{"location": gs(c.objects[2])}},
		"hmsEvents/ev-a-" + c.appt:     {"appointmentId": c.appt, "roomId": "room-" + c.appt, "raw": `{"user_name":"` + patientName + `"}`},
		"hmsEvents/ev-b-" + c.appt:     {"roomId": "room-" + c.appt, "raw": `{}`},
		"hmsEvents/ev-other-" + c.appt: {"appointmentId": "another", "roomId": "room-other", "raw": `{}`},
		"auditLog/before-" + c.appt:    {"action": "token", "outcome": "granted", "uid": "c1", "appointmentId": c.appt},
	}
	for path, d := range docs {
		if _, err := fs.Doc(path).Set(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *consultation) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-erase", "RECORDING_BUCKET": c.bucket, "USER": "dpo",
		"FIRESTORE_EMULATOR_HOST": emulatortest.Firestore(t)}
	code := run(context.Background(), append([]string{"--appointment", c.appt, "--reason", "request #42"}, args...),
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errOut)
	if s := out.String() + errOut.String(); strings.Contains(s, patientName) || strings.Contains(s, "Dr. Who") || strings.Contains(s, "https://") {
		t.Errorf("the output names a person or a link:\n%s", s)
	}
	return code, out.String(), errOut.String()
}

func (c *consultation) exists(t *testing.T, path string) bool {
	t.Helper()
	snap, err := c.fs.Doc(path).Get(context.Background())
	if snap != nil && !snap.Exists() {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func (c *consultation) fileCount(t *testing.T) int {
	t.Helper()
	n := 0
	for _, o := range c.objects {
		_, err := c.gcs.Bucket(c.bucket).Object(o).Attrs(context.Background())
		switch {
		case err == nil:
			n++
		case !errors.Is(err, storage.ErrObjectNotExist):
			t.Fatal(err)
		}
	}
	return n
}

func (c *consultation) doc(t *testing.T, path string) map[string]any {
	t.Helper()
	snap, err := c.fs.Doc(path).Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap.Data()
}

func (c *consultation) entries(t *testing.T, action string) []map[string]any {
	t.Helper()
	snaps, err := c.fs.Collection("auditLog").Where("appointmentId", "==", c.appt).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, s := range snaps {
		if d := s.Data(); action == "" || d["action"] == action {
			out = append(out, d)
		}
	}
	return out
}

// TestEraseDryRunThenErase: the dry run lists the three files and counts
// the two raw events and two names, and deletes nothing; the erasure then
// deletes the files, the events (not another appointment's), the names
// (not the user ids), marks the documents deletedBy erasure, keeps status,
// visit and the earlier audit entry, records erasure and one system erase
// entry. Planted bugs caught: a dry run that deletes (files counted), the
// room's events left out (ev-b stays), names left (userName present).
func TestEraseDryRunThenErase(t *testing.T) {
	c := seed(t, false)
	code, out, stderr := c.run(t, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: %d\n%s%s", code, out, stderr)
	}
	for _, o := range c.objects {
		if !strings.Contains(out, "would delete file "+c.bucket+"/"+o) {
			t.Errorf("the dry run does not list %s:\n%s", o, out)
		}
	}
	if !strings.Contains(out, "would delete 3 file(s), 2 raw event(s), 2 user name(s)") || !strings.Contains(out, "1 file(s) of this call are outside RECORDING_BUCKET") {
		t.Errorf("dry run says:\n%s", out)
	}
	if n := c.fileCount(t); n != 3 || !c.exists(t, "hmsEvents/ev-a-"+c.appt) || c.doc(t, "calls/"+c.appt+"/sessions/s1")["peers"].(map[string]any)["p1"].(map[string]any)["userName"] != patientName {
		t.Fatalf("the dry run deleted something (files left %d)", n)
	}
	if c.doc(t, "calls/"+c.appt)["erasure"] != nil || len(c.entries(t, "erase")) != 0 {
		t.Error("the dry run recorded an erasure")
	}

	code, out, stderr = c.run(t)
	if code != 0 {
		t.Fatalf("erase: %d\n%s%s", code, out, stderr)
	}
	if n := c.fileCount(t); n != 0 {
		t.Errorf("%d files left", n)
	}
	for _, id := range []string{"ev-a-", "ev-b-"} {
		if c.exists(t, "hmsEvents/"+id+c.appt) {
			t.Errorf("event %s%s kept", id, c.appt)
		}
	}
	if !c.exists(t, "hmsEvents/ev-other-"+c.appt) {
		t.Error("another appointment's event deleted")
	}
	peers := c.doc(t, "calls/"+c.appt+"/sessions/s1")["peers"].(map[string]any)
	for pid, p := range peers {
		if m := p.(map[string]any); m["userName"] != nil || m["userId"] == nil {
			t.Errorf("peer %s after erasure: %v", pid, m)
		}
	}
	call := c.doc(t, "calls/"+c.appt)
	er, _ := call["erasure"].(map[string]any)
	del, _ := er["deleted"].(map[string]any)
	if call["status"] != "ended" || call["visit"] == nil || er["by"] != "dpo" || er["reason"] != "request #42" || er["at"] == nil ||
		del["files"] != int64(3) || del["events"] != int64(2) {
		t.Errorf("call after erasure: %v", call)
	}
	for _, p := range []string{"recordings/sfu-s1", "transcripts/tr1"} {
		if d := c.doc(t, "calls/"+c.appt+"/"+p); d["deletedBy"] != "erasure" || d["deletedAt"] == nil || d["url"] != nil {
			t.Errorf("%s after erasure: %v", p, d)
		}
	}
	if !c.exists(t, "auditLog/before-"+c.appt) {
		t.Error("the audit trail lost an entry")
	}
	if e := c.entries(t, "erase"); len(e) != 1 || e[0]["uid"] != "system" || e[0]["outcome"] != "granted" {
		t.Errorf("erase entries: %v", e)
	}
}

// TestEraseRefusedUnderHold: an appointment under legal hold is refused
// (exit 1, saying so), nothing is deleted, and the refusal is in the
// trail. Planted bug caught: the hold check left out.
func TestEraseRefusedUnderHold(t *testing.T) {
	c := seed(t, true)
	code, out, stderr := c.run(t)
	if code != 1 || !strings.Contains(stderr, "legal hold") {
		t.Fatalf("under hold: %d\n%s%s", code, out, stderr)
	}
	if n := c.fileCount(t); n != 3 || !c.exists(t, "hmsEvents/ev-a-"+c.appt) || c.doc(t, "calls/"+c.appt)["erasure"] != nil {
		t.Errorf("something was erased under hold (files left %d)", n)
	}
	if e := c.entries(t, "erase"); len(e) != 1 || e[0]["outcome"] != "refused" || e[0]["reason"] != "LEGAL_HOLD" {
		t.Errorf("erase entries: %v", e)
	}
}

func TestParseArgs(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"FIRESTORE_EMULATOR_HOST": "h:1", "USER": "me"}[k]
		return v, ok
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"--reason", "r"}, "--appointment ID is required"},
		{[]string{"--appointment", "a"}, "--reason TEXT is required"},
		{[]string{"--appointment", "a", "--reason", "r", "extra"}, "unexpected argument"},
		{[]string{"--appointment", "a", "--reason", "r", "--dryrun"}, "not defined"},
	} {
		if _, err := parseArgs(c.args, env, io.Discard); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: %v; want %q", c.args, err, c.err)
		}
	}
	o, err := parseArgs([]string{"--appointment", "a", "--reason", "r", "--dry-run"}, env, io.Discard)
	if err != nil || !o.dryRun || o.by != "me" || o.target.Project != "demo-videocalls" {
		t.Errorf("%+v, %v", o, err)
	}
}
