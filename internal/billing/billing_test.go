package billing

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/telemed/videocalls/internal/delayproxy"
	"github.com/telemed/videocalls/internal/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// TestCountKnownWorkload runs a fixed sequence whose billed operations are
// known, through the proxy to the real emulator, and checks the count.
// Planted bugs caught: missing documents of a get not billed (reads 5),
// an empty query not billed (reads 5), a document rewritten with expireAt
// counted as a second TTL delete (ttl 2), the batch's writes counted once
// per commit (writes 2).
func TestCountKnownWorkload(t *testing.T) {
	host := emulatortest.Firestore(t)
	const project = "demo-billing"
	emulatortest.Wipe(t, project)
	px, err := delayproxy.Listen("127.0.0.1:0", host, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	px.KeepBodies(true)
	t.Setenv("FIRESTORE_EMULATOR_HOST", px.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()

	start := time.Now()
	b := fs.Batch() //nolint:staticcheck // SA1019: one commit of three writes, as the functions make them.
	b.Create(fs.Doc("calls/a"), map[string]any{"status": "live"})
	b.Set(fs.Doc("calls/a/sessions/s1"), map[string]any{"status": "open"}, firestore.MergeAll)
	b.Create(fs.Doc("hmsEvents/e1"), map[string]any{"raw": "{}", "expireAt": time.Now()})
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// The same TTL document written again: still one delete to come.
	if _, err := fs.Doc("hmsEvents/e1").Set(ctx, map[string]any{"expireAt": time.Now()}, firestore.MergeAll); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.GetAll(ctx, []*firestore.DocumentRef{fs.Doc("calls/a"), fs.Doc("calls/a/sessions/s1"), fs.Doc("hmsEvents/e1"), fs.Doc("calls/missing")}); err != nil {
		t.Fatal(err)
	}
	if docs, err := fs.Collection("calls").Doc("a").Collection("sessions").Documents(ctx).GetAll(); err != nil || len(docs) != 1 {
		t.Fatalf("query: %d, %v", len(docs), err)
	}
	if docs, err := fs.Collection("auditLog").Where("uid", "==", "nobody").Documents(ctx).GetAll(); err != nil || len(docs) != 0 {
		t.Fatalf("empty query: %d, %v", len(docs), err)
	}
	if _, err := fs.Doc("calls/a/sessions/s1").Delete(ctx); err != nil {
		t.Fatal(err)
	}

	c := New()
	if err := c.Add(px.Calls(start)); err != nil {
		t.Fatal(err)
	}
	want := Ops{Reads: 4 + 1 + 1, Writes: 3 + 1, Deletes: 1, TTLDeletes: 1}
	if c.Ops != want {
		t.Errorf("counted %+v; want %+v", c.Ops, want)
	}
	if got := *c.ByCollection["sessions"]; got != (Ops{Reads: 2, Writes: 1, Deletes: 1}) {
		t.Errorf("sessions: %+v", got)
	}
	if got := *c.ByCollection["hmsEvents"]; got != (Ops{Reads: 1, Writes: 2, TTLDeletes: 1}) {
		t.Errorf("hmsEvents: %+v", got)
	}
	if got := *c.ByCollection["auditLog"]; got != (Ops{Reads: 1}) {
		t.Errorf("auditLog (the empty query): %+v", got)
	}
}
