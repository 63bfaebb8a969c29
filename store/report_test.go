package store

import (
	"fmt"
	"testing"
	"time"
)

// TestEndedCallsPages: the report's query streams ended calls in endedAt
// order across pages, with calls ending at the same instant on a page edge
// neither lost nor repeated, the range half-open, live calls left out, and
// the doctor filter applied. Planted bug caught: an inclusive until
// (scripts/mutate). Ordering by endedAt alone would not lose calls at a
// page edge: StartAfter(snapshot) adds the document name to the cursor.
func TestEndedCallsPages(t *testing.T) {
	s := newStore(t, "demo-report-pages")
	old := reportPageSize
	reportPageSize = 3
	t.Cleanup(func() { reportPageSize = old })
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	ctx := ctxT(t)
	want := 0
	for i := range 10 {
		ended := day.Add(time.Duration(i/2) * time.Hour) // pairs end at the same instant
		doc := map[string]any{"doctorId": fmt.Sprintf("doc-%d", i%2), "clientId": "c", "status": "ended", "endedAt": ended,
			"sessionCount": int64(1), "visit": map[string]any{"doctorSec": int64(60 * i), "clientSec": int64(30), "togetherSec": int64(30), "waitSec": int64(5)}}
		if _, err := s.callRef(fmt.Sprintf("appt-%02d", i)).Set(ctx, doc); err != nil {
			t.Fatal(err)
		}
		want++
	}
	if _, err := s.callRef("appt-live").Set(ctx, map[string]any{"status": "live", "doctorId": "doc-0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.callRef("appt-next-day").Set(ctx, map[string]any{"status": "ended", "endedAt": day.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var got []VisitRow
	err := s.EndedCalls(ctx, ReportFilter{Since: day, Until: day.Add(24 * time.Hour)}, func(r VisitRow) error {
		got = append(got, r)
		return nil
	})
	if err != nil || len(got) != want {
		t.Fatalf("%d rows, %v; want %d", len(got), err, want)
	}
	for i, r := range got {
		if r.AppointmentID != fmt.Sprintf("appt-%02d", i) || !r.HasVisit || r.DoctorSec != int64(60*i) {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	n := 0
	err = s.EndedCalls(ctx, ReportFilter{Since: day, Until: day.Add(24 * time.Hour), DoctorID: "doc-1"}, func(r VisitRow) error {
		n++
		if r.DoctorID != "doc-1" {
			t.Errorf("doctor filter let %+v through", r)
		}
		return nil
	})
	if err != nil || n != 5 {
		t.Errorf("doc-1's calls: %d, %v; want 5", n, err)
	}
}
