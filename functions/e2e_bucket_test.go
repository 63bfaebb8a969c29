package functions

import (
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/storage"
	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

// bucketEnv is an hmsEnv whose RECORDING_BUCKET is a fresh bucket on the
// storage emulator (fake-gcs-server), with links signed by a
// service-account key made for the test.
type bucketEnv struct {
	*hmsEnv
	name    string
	host    string // the storage emulator
	email   string
	pub     *rsa.PublicKey
	storage *storage.Client
}

func newBucketEnv(t *testing.T, settings map[string]string) *bucketEnv {
	t.Helper()
	host := emulatortest.Storage(t)
	email := "hms-functions@" + emulatortest.AuthProject + ".iam.gserviceaccount.com"
	keyPath, pub, err := emulatortest.ServiceAccountKey(t.TempDir(), email)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sc, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sc.Close() })
	name := "clinic-" + uuid.NewString()[:8]
	if err := sc.Bucket(name).Create(ctx, emulatortest.AuthProject, nil); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	all := map[string]string{envBucket: name, envCredentials: keyPath, envStorageEmu: host}
	for k, v := range settings {
		all[k] = v
	}
	return &bucketEnv{hmsEnv: newHMSEnvWith(t, defaultSweepLimits, all), name: name, host: host, email: email, pub: pub, storage: sc}
}

// put writes an object and returns its gs:// location, as 100ms reports it.
func (b *bucketEnv) put(t *testing.T, object, content string) string {
	t.Helper()
	w := b.storage.Bucket(b.name).Object(object).NewWriter(context.Background())
	if _, err := io.WriteString(w, content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("upload %s: %v", object, err)
	}
	return "gs://" + b.name + "/" + object
}

func (b *bucketEnv) exists(t *testing.T, object string) bool {
	t.Helper()
	_, err := b.storage.Bucket(b.name).Object(object).Attrs(context.Background())
	if err != nil && !errors.Is(err, storage.ErrObjectNotExist) {
		t.Fatalf("attrs %s: %v", object, err)
	}
	return err == nil
}

func (b *bucketEnv) seed(t *testing.T, path string, fields map[string]any) {
	t.Helper()
	if _, err := b.e.fs.Doc(path).Set(context.Background(), fields); err != nil {
		t.Fatalf("seed %s: %v", path, err)
	}
}

// hundredMSAsked counts the requests that could make a link at 100ms.
func hundredMSAsked(f *fake100ms.Server) int {
	return f.Calls("GET /recording-assets") + f.Calls("GET /recording-assets/{id}") + f.Calls("GET /recording-assets/{id}/presigned-url")
}

// TestE2EBucketLink: a participant's link to a file in RECORDING_BUCKET
// verifies against the service account's public key (rebuilt from
// Google's V4 process), names the right object, lives at most 15 minutes,
// and fetches the file from the storage emulator; 100ms is not asked (it
// is down, and counts no request); the audit entry names the object, not
// the link; a stranger gets none; a deleted file is NOT_FOUND DELETED; a
// file elsewhere keeps 100ms's path. Planted bugs caught: the branch left
// out (100ms asked: 503), a link signed for the wrong object (path), a
// link not signed by the key (signature), no participant check (stranger).
func TestE2EBucketLink(t *testing.T) {
	b := newBucketEnv(t, nil)
	appt, doctor, client, stranger := b.consultation(t)
	video := "rooms/r1/s1/composite.mp4"
	txt := "rooms/r1/s1/transcript.txt"
	b.seed(t, "calls/"+appt+"/recordings/sfu-s1", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s1",
		"location": b.put(t, video, "the consultation"), "createdAt": time.Now()})
	b.seed(t, "calls/"+appt+"/transcripts/tr1", map[string]any{"status": "success", "sessionId": "s1", "createdAt": time.Now(),
		"transcriptTxt": map[string]any{"location": b.put(t, txt, "the transcript")}})
	b.seed(t, "calls/"+appt+"/recordings/sfu-gone", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s2",
		"location": "gs://" + b.name + "/rooms/r1/s2/composite.mp4", "deletedAt": time.Now(), "deletedBy": "retention"})
	ask := func(u e2eUser, data map[string]any) (httpAnswer, callableAnswer) {
		data["appointmentId"] = appt
		return b.call(t, "hmsRecordingUrl", u, data)
	}

	b.fake.SetDown(true) // asking 100ms would fail the request
	asked := hundredMSAsked(b.fake)
	for _, c := range []struct {
		name    string
		user    e2eUser
		data    map[string]any
		object  string
		content string
	}{
		{"client, recording", client, map[string]any{"recordingId": "sfu-s1"}, video, "the consultation"},
		{"doctor, transcript", doctor, map[string]any{"transcriptId": "tr1"}, txt, "the transcript"},
	} {
		ans, out := ask(c.user, c.data)
		link, _ := out.Result["url"].(string)
		b.e.remember(link)
		if ans.code != http.StatusOK || link == "" {
			t.Fatalf("%s: %d %s", c.name, ans.code, ans.body)
		}
		got, err := emulatortest.VerifySignedURL(link, b.pub)
		if err != nil {
			t.Errorf("%s: the link does not verify against the service account's key: %v", c.name, err)
			continue
		}
		if got.Path != "/"+b.name+"/"+c.object || got.AccessID != b.email {
			t.Errorf("%s: the link names %s signed by %s; want /%s/%s by %s", c.name, got.Path, got.AccessID, b.name, c.object, b.email)
		}
		if got.Expires <= 0 || got.Expires > 15*time.Minute {
			t.Errorf("%s: the link lives %s; want at most 15m", c.name, got.Expires)
		}
		exp, err := time.Parse(time.RFC3339, stringOf(out.Result["expiresAt"]))
		if err != nil || exp.After(got.Date.Add(got.Expires).Add(time.Second)) || exp.Before(got.Date.Add(got.Expires).Add(-2*time.Second)) {
			t.Errorf("%s: expiresAt %v is not when the link expires (%s + %s)", c.name, out.Result["expiresAt"], got.Date, got.Expires)
		}
		// fake-gcs-server does not check signatures: fetch by the link's path.
		u, _ := url.Parse(link)
		resp, err := http.Get("http://" + b.host + u.EscapedPath() + "?" + u.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != c.content {
			t.Errorf("%s: fetching the link's object: %d %q", c.name, resp.StatusCode, body)
		}
	}
	if n := hundredMSAsked(b.fake) - asked; n != 0 {
		t.Errorf("100ms was asked %d times for files in the clinic's bucket", n)
	}
	ans, out := ask(stranger, map[string]any{"recordingId": "sfu-s1"})
	wantReason(t, "stranger", ans, out, 403, "PERMISSION_DENIED", reasonNotParticipant)
	if out.Result != nil {
		t.Errorf("a stranger got %v", out.Result)
	}
	ans, out = ask(client, map[string]any{"recordingId": "sfu-gone"})
	wantReason(t, "deleted file", ans, out, 404, "NOT_FOUND", reasonDeleted)
	b.fake.SetDown(false)

	// The trail names the object, never the link.
	var objects []string
	for _, e := range b.auditEntries(t, client.uid) {
		if e["appointmentId"] == appt && e["action"] == "recordingUrl" && e["outcome"] == "granted" {
			d, _ := e["details"].(map[string]any)
			objects = append(objects, stringOf(d["object"]))
		}
		if d, _ := e["details"].(map[string]any); strings.Contains(strings.ToLower(stringOf(d["object"])), "http") {
			t.Errorf("an entry holds a link: %v", e)
		}
	}
	if len(objects) != 1 || objects[0] != b.name+"/"+video {
		t.Errorf("the client's granted entries name %q; want [%s/%s]", objects, b.name, video)
	}

	// A file elsewhere (100ms's own storage) keeps 100ms's path.
	roomID := b.room(t, appt, doctor)
	assetID := b.fake.AddAsset(fake100ms.Asset{ID: "asset-" + uuid.NewString()[:8], RoomID: roomID, SessionID: "s3", Type: "room-composite", Path: "s3://hms-bucket/s3/video.mp4"})
	b.seed(t, "calls/"+appt+"/recordings/sfu-s3", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s3",
		"location": "s3://hms-bucket/s3/video.mp4", "assetId": assetID, "createdAt": time.Now()})
	ans, out = ask(client, map[string]any{"recordingId": "sfu-s3"})
	if link := stringOf(out.Result["url"]); ans.code != http.StatusOK || !strings.Contains(link, "/signed/"+assetID+"?") {
		t.Errorf("file elsewhere: %d %s; want 100ms's link", ans.code, ans.body)
	}
}

// TestE2ERetention: two sweeps at once delete the files of the recording
// and the transcript past RECORDING_RETENTION_DAYS, mark each document
// once (deletedAt, deletedBy retention, links gone) with one
// retention.delete entry each; the held appointment's file and the recent
// one stay, the held one counted; a file outside the bucket is left to
// 100ms; a third sweep changes nothing; the deleted file's link is
// NOT_FOUND DELETED; the sweep's cursor stands past what is settled, and
// lifting the hold lets the next run delete the held file. Planted bugs caught: the hold ignored (held file
// deleted), the cutoff inverted or in hours (recent file deleted, or old
// kept), the mark made without a transaction (two entries).
func TestE2ERetention(t *testing.T) {
	b := newBucketEnv(t, map[string]string{envRetentionDays: "30"})
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	apptOld, _, clientOld, _ := b.consultation(t)
	apptHeld, _, _, _ := b.consultation(t)
	apptNew, _, _, _ := b.consultation(t)
	if _, err := b.e.fs.Collection("appointments").Doc(apptHeld).Update(ctx, []firestore.Update{{Path: "legalHold", Value: true}}); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"old-video": apptOld + "/s1/composite.mp4", "old-chat": apptOld + "/s1/chat.csv", "old-txt": apptOld + "/s1/t.txt",
		"held": apptHeld + "/s1/composite.mp4", "recent": apptNew + "/s1/composite.mp4",
	}
	loc := map[string]string{}
	for k, o := range files {
		loc[k] = b.put(t, o, k)
	}
	b.seed(t, "calls/"+apptOld, map[string]any{"appointmentId": apptOld, "status": "ended"})
	b.seed(t, "calls/"+apptOld+"/recordings/sfu-s1", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s1",
		"location": loc["old-video"], "chatLocation": loc["old-chat"], "url": "https://hms.example/old", "createdAt": old})
	b.seed(t, "calls/"+apptOld+"/transcripts/tr1", map[string]any{"status": "success", "sessionId": "s1", "createdAt": old,
		"transcriptTxt": map[string]any{"location": loc["old-txt"], "url": "https://hms.example/t"}})
	b.seed(t, "calls/"+apptOld+"/recordings/sfu-elsewhere", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s0",
		"location": "s3://hms-bucket/x.mp4", "createdAt": old})
	b.seed(t, "calls/"+apptHeld+"/recordings/sfu-s1", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s1",
		"location": loc["held"], "createdAt": old})
	b.seed(t, "calls/"+apptNew+"/recordings/sfu-s1", map[string]any{"kind": "sfu", "status": "success", "sessionId": "s1",
		"location": loc["recent"], "createdAt": time.Now().Add(-29 * 24 * time.Hour)})

	entries := func() []map[string]any {
		var out []map[string]any
		for _, e := range b.auditEntries(t, "system") {
			if e["action"] == "retention.delete" && (e["appointmentId"] == apptOld || e["appointmentId"] == apptHeld || e["appointmentId"] == apptNew) {
				out = append(out, e)
			}
		}
		return out
	}
	var wg sync.WaitGroup
	sums := make([]sweepSummary, 2)
	for i := range sums {
		wg.Go(func() { sums[i] = b.sweep(t) })
	}
	wg.Wait()
	deleted, filesDeleted, held := 0, 0, 0
	for _, s := range sums {
		deleted, filesDeleted, held = deleted+s.RecordingsDeleted, filesDeleted+s.FilesDeleted, held+s.Held
		for _, e := range s.CallErrors {
			if strings.Contains(e, apptOld) || strings.Contains(e, apptHeld) || strings.Contains(e, "retention") {
				t.Errorf("sweep error: %s", e)
			}
		}
	}
	// Held counts per run; what one run deleted the other may find gone.
	if deleted != 2 || filesDeleted != 3 || held < 1 || held > 2 {
		t.Errorf("two sweeps: recordingsDeleted %d, filesDeleted %d, held %d; want 2, 3, 1 or 2 (%+v)", deleted, filesDeleted, held, sums)
	}
	for k, o := range files {
		want := k == "held" || k == "recent"
		if got := b.exists(t, o); got != want {
			t.Errorf("%s exists %t; want %t", k, got, want)
		}
	}
	rec := b.e.doc(t, "calls/"+apptOld+"/recordings/sfu-s1")
	tr := b.e.doc(t, "calls/"+apptOld+"/transcripts/tr1")
	if rec["deletedAt"] == nil || rec["deletedBy"] != "retention" || rec["url"] != nil || rec["location"] != loc["old-video"] {
		t.Errorf("recording after retention: %v", rec)
	}
	if tr["deletedAt"] == nil || tr["deletedBy"] != "retention" || tr["transcriptTxt"].(map[string]any)["url"] != nil {
		t.Errorf("transcript after retention: %v", tr)
	}
	for _, p := range []string{"calls/" + apptOld + "/recordings/sfu-elsewhere", "calls/" + apptHeld + "/recordings/sfu-s1", "calls/" + apptNew + "/recordings/sfu-s1"} {
		if d := b.e.doc(t, p); d["deletedAt"] != nil {
			t.Errorf("%s marked deleted: %v", p, d)
		}
	}
	got := entries()
	if len(got) != 2 {
		t.Fatalf("%d retention.delete entries; want 2 (one per document): %v", len(got), got)
	}
	for _, e := range got {
		d, _ := e["details"].(map[string]any)
		if e["appointmentId"] != apptOld || e["outcome"] != "granted" || e["role"] != "system" || d == nil || d["objects"] == nil {
			t.Errorf("entry %v", e)
		}
	}

	before := b.e.callTree(t, apptOld)
	again := b.sweep(t)
	if again.RecordingsDeleted != 0 || again.FilesDeleted != 0 || again.Held != 1 {
		t.Errorf("third sweep: %+v; want nothing deleted, 1 held", again)
	}
	if n := len(entries()); n != 2 {
		t.Errorf("%d entries after a third sweep; want 2", n)
	}
	after := b.e.callTree(t, apptOld)
	for k, v := range before {
		if !reflect.DeepEqual(v, after[k]) {
			t.Errorf("a third sweep changed %s: %v → %v", k, v, after[k])
		}
	}
	ans, out := b.call(t, "hmsRecordingUrl", clientOld, map[string]any{"appointmentId": apptOld, "recordingId": "sfu-s1"})
	wantReason(t, "link to a file retention deleted", ans, out, 404, "NOT_FOUND", reasonDeleted)

	// The sweep keeps its place: the cursor stands past every settled
	// document (deleted, elsewhere, or held with its appointment listed);
	// store's TestRetentionCursor shows a run then reads none of them.
	state := b.e.doc(t, "hmsSweep/retention")
	through, _ := state["settledThrough"].(map[string]any)
	if rc, _ := through["recordings"].(time.Time); !rc.Equal(old.Truncate(time.Microsecond)) {
		t.Errorf("retention state %v; want recordings settled through %v", state, old)
	}
	if h, _ := state["held"].(map[string]any); len(h) != 1 || h[apptHeld] != true {
		t.Errorf("held appointments %v; want only %s", state["held"], apptHeld)
	}

	// The hold lifted: the next run deletes the held file, reached through
	// the held list (the cursor is past it), and takes it off the list.
	if _, err := b.e.fs.Collection("appointments").Doc(apptHeld).Update(ctx, []firestore.Update{{Path: "legalHold", Value: false}}); err != nil {
		t.Fatal(err)
	}
	lifted := b.sweep(t)
	if lifted.RecordingsDeleted != 1 || lifted.FilesDeleted != 1 || lifted.Held != 0 {
		t.Errorf("sweep after the hold was lifted: %+v; want the held recording deleted", lifted)
	}
	if b.exists(t, files["held"]) || !b.exists(t, files["recent"]) {
		t.Errorf("after the hold was lifted: held file exists %t, recent exists %t; want false, true", b.exists(t, files["held"]), b.exists(t, files["recent"]))
	}
	if h, _ := b.e.doc(t, "hmsSweep/retention")["held"].(map[string]any); len(h) != 0 {
		t.Errorf("held appointments after the hold was lifted: %v; want none", h)
	}
}
