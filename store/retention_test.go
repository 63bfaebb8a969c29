package store

import (
	"testing"
	"time"
)

// TestRetentionCursor: a run passes each expired document to fn once; the
// next run starts where everything before was settled, so a settled
// document that is not deleted (its files elsewhere, or held) is not read
// again, and a document fn could not settle (a failed delete) is passed
// again with everything after it, and a run stopped by its budget
// within one instant leaves the cursor before it. Planted: the query from the start each
// run (the settled ones passed again), the cursor moved over an unsettled
// document (it is never passed again).
func TestRetentionCursor(t *testing.T) {
	s := newStore(t, "demo-retention-cursor")
	ctx := ctxT(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"a", "b", "c"} {
		if _, err := s.fs.Doc("calls/appt-rc/recordings/"+id).Set(ctx, map[string]any{
			"kind": "sfu", "status": "success", "location": "gs://bucket/" + id, "createdAt": base.Add(time.Duration(i) * time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := base.Add(24 * time.Hour)
	run := func(unsettled string) []string {
		var seen []string
		err := s.EachExpiredDoc(ctx, cutoff, func(d StoredDoc) (bool, bool) {
			seen = append(seen, d.ID)
			return d.ID != unsettled, true
		})
		if err != nil {
			t.Fatal(err)
		}
		return seen
	}
	if got := run("b"); len(got) != 3 {
		t.Fatalf("first run passed %v; want a, b, c", got)
	}
	// a is settled (not deleted); b failed: the next run starts at b.
	if got := run(""); len(got) != 2 || got[0] != "b" || got[1] != "c" {
		t.Fatalf("second run passed %v; want b, c (a settled before)", got)
	}
	// Everything settled: nothing is read.
	if got := run(""); len(got) != 0 {
		t.Fatalf("third run passed %v; want none", got)
	}
	// Two documents of one instant, the second not settled: the cursor
	// stays before that instant, so both are passed again.
	for _, id := range []string{"d1", "d2"} {
		if _, err := s.fs.Doc("calls/appt-rc/transcripts/"+id).Set(ctx, map[string]any{
			"status": "success", "transcriptTxt": map[string]any{"location": "gs://bucket/" + id}, "createdAt": base.Add(5 * time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := run("d2"); len(got) != 2 {
		t.Fatalf("run over d1, d2 passed %v", got)
	}
	if got := run(""); len(got) != 2 {
		t.Fatalf("after d2 failed, the next run passed %v; want d1 and d2 again", got)
	}
	if got := run(""); len(got) != 0 {
		t.Fatalf("all settled, a run passed %v; want none", got)
	}
	// A run that stops (its budget) after the first of two documents of
	// one instant: the next run still reads the second.
	for _, id := range []string{"e1", "e2"} {
		if _, err := s.fs.Doc("calls/appt-rc/transcripts/"+id).Set(ctx, map[string]any{
			"status": "success", "transcriptTxt": map[string]any{"location": "gs://bucket/" + id}, "createdAt": base.Add(6 * time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
	}
	var first []string
	if err := s.EachExpiredDoc(ctx, cutoff, func(d StoredDoc) (bool, bool) {
		first = append(first, d.ID)
		return true, false
	}); err != nil || len(first) != 1 {
		t.Fatalf("a run stopped after one document passed %v, %v", first, err)
	}
	if got := run(""); len(got) != 2 {
		t.Fatalf("after a run stopped within an instant, the next passed %v; want e1 and e2", got)
	}
}
