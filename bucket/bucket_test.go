package bucket_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"

	"github.com/telemed/videocalls/bucket"
	"github.com/telemed/videocalls/internal/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// TestSignDeleteOnTheEmulator: a link signed with a key made here verifies
// against its public half, names the object, lives as long as asked, and
// fetches the file from the emulator; deleting twice is fine. Planted bug
// caught: a link signed for another object (the path check), or by
// another key (the signature check).
func TestSignDeleteOnTheEmulator(t *testing.T) {
	host := emulatortest.Storage(t)
	ctx := context.Background()
	keyPath, pub, err := emulatortest.ServiceAccountKey(t.TempDir(), "hms-functions@demo.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	key, err := bucket.LoadKey(keyPath)
	if err != nil || key == nil {
		t.Fatalf("LoadKey: %v, %v", key, err)
	}
	c, err := storage.NewClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name := "clinic-recordings-sign"
	if err := c.Bucket(name).Create(ctx, "demo", nil); err != nil && !strings.Contains(err.Error(), "409") {
		t.Fatal(err)
	}
	object := "room/s1/video file.mp4"
	w := c.Bucket(name).Object(object).NewWriter(ctx)
	if _, err := io.WriteString(w, "mp4 bytes"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := bucket.Open(ctx, name, key)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, ok := b.Object("gs://" + name + "/" + object); !ok || got != object {
		t.Errorf("Object: %q %t", got, ok)
	}
	for _, other := range []string{"s3://" + name + "/x", "gs://" + name + "-other/x", "gs://" + name + "/", "gs://" + name} {
		if got, ok := b.Object(other); ok {
			t.Errorf("Object(%q) = %q; want none", other, got)
		}
	}
	link, exp, err := b.Sign(object, 15*time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := emulatortest.VerifySignedURL(link, pub)
	if err != nil {
		t.Fatalf("the link does not verify: %v", err)
	}
	// The client counts X-Goog-Expires from its own clock, a moment later.
	if got.Path != "/"+name+"/"+object || got.Expires > 15*time.Minute || got.Expires < 15*time.Minute-2*time.Second || got.AccessID != key.Email {
		t.Errorf("link says %+v", got)
	}
	if d := exp.Sub(got.Date.Add(got.Expires)); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("expiresAt %s is not X-Goog-Date + 15m (%s)", exp, got.Date)
	}
	_, otherPub, _ := emulatortest.ServiceAccountKey(t.TempDir(), "y@demo.iam.gserviceaccount.com")
	if _, err := emulatortest.VerifySignedURL(link, otherPub); err == nil {
		t.Error("the link verifies against another key")
	}
	tampered := strings.Replace(link, "video%20file", "other%20file", 1)
	if _, err := emulatortest.VerifySignedURL(tampered, pub); err == nil {
		t.Error("a link to another object verifies")
	}
	// The emulator does not check signatures: fetch by the link's path.
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + host + u.EscapedPath() + "?" + u.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "mp4 bytes" {
		t.Errorf("fetch: %d %q", resp.StatusCode, body)
	}
	if _, _, err := b.Sign(object, 0, time.Now()); err == nil {
		t.Error("a link of no lifetime was signed")
	}

	for i := range 2 {
		if err := b.Delete(ctx, object); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	if _, err := c.Bucket(name).Object(object).Attrs(ctx); !errors.Is(err, storage.ErrObjectNotExist) {
		t.Errorf("after delete: %v", err)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"clinic-recordings": true, "a.b.c": true, "ab": false, "Clinic": false, "-x-y": false, "x_y_": false,
		"gs://x": false, strings.Repeat("a", 64): false, strings.Repeat("a", 63): true, "a..b": false,
	} {
		if got := bucket.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %t", name, got)
		}
	}
}
