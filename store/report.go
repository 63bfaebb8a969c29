package store

import (
	"context"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// The visit report (docs/visit.md, "The report"): one row per call that
// ended in a range, read by pages so that a long range streams.

// ReportFilter selects ended calls: endedAt in [Since, Until), and, when
// set, DoctorID's.
type ReportFilter struct {
	Since, Until time.Time
	DoctorID     string
}

// VisitRow is one ended call as the report shows it.
type VisitRow struct {
	AppointmentID, DoctorID, ClientID string
	StartedAt, EndedAt                time.Time
	SessionCount                      int64
	// HasVisit is false for a call whose visit was never kept (recorded
	// before this version): its seconds are then unknown, not zero.
	HasVisit                                   bool
	DoctorSec, ClientSec, TogetherSec, WaitSec int64
	Recorded, Transcribed                      bool
	EndedBy                                    string
}

// reportPageSize is how many calls one query page reads (a var: the
// paging test lowers it).
var reportPageSize = 500

// EndedCalls streams the calls that ended in f's range, in endedAt order
// (then id), to each. A live call has no endedAt (it is deleted when a
// session opens again), so the range query sees ended calls only. The
// query is served by endedAt's automatic index, or with a doctor by the
// (doctorId, endedAt) index of firestore.indexes.json.
func (s *Store) EndedCalls(ctx context.Context, f ReportFilter, each func(VisitRow) error) error {
	q := s.fs.Collection(colCalls).Query
	if f.DoctorID != "" {
		q = q.Where("doctorId", "==", f.DoctorID)
	}
	if !f.Since.IsZero() {
		q = q.Where("endedAt", ">=", f.Since)
	} else {
		q = q.Where("endedAt", ">", time.Time{})
	}
	if !f.Until.IsZero() {
		q = q.Where("endedAt", "<", f.Until)
	}
	q = q.OrderBy("endedAt", firestore.Asc).OrderBy(firestore.DocumentID, firestore.Asc).Limit(reportPageSize)
	var last *firestore.DocumentSnapshot
	for page := 1; ; page++ {
		pq := q
		if last != nil {
			pq = q.StartAfter(last)
		}
		it := pq.Documents(ctx)
		n := 0
		for {
			snap, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				it.Stop()
				return wrapf(err, "read ended calls, page %d", page)
			}
			n++
			last = snap
			if err := each(visitRowOf(snap)); err != nil {
				it.Stop()
				return err
			}
		}
		it.Stop()
		if n < reportPageSize {
			return nil
		}
	}
}

func visitRowOf(snap *firestore.DocumentSnapshot) VisitRow {
	d := snap.Data()
	r := VisitRow{
		AppointmentID: snap.Ref.ID, DoctorID: strAt(d, "doctorId"), ClientID: strAt(d, "clientId"),
		StartedAt: timeAt(d, "startedAt"), EndedAt: timeAt(d, "endedAt"),
		EndedBy: strAt(mapAt(d, "endedBy"), "uid"),
	}
	r.SessionCount, _ = d["sessionCount"].(int64)
	r.Recorded, _ = d["recorded"].(bool)
	r.Transcribed, _ = d["transcribed"].(bool)
	if v, ok := d["visit"].(map[string]any); ok {
		if _, ok := v["doctorSec"].(int64); ok {
			r.HasVisit = true
			r.DoctorSec, _ = v["doctorSec"].(int64)
			r.ClientSec, _ = v["clientSec"].(int64)
			r.TogetherSec, _ = v["togetherSec"].(int64)
			r.WaitSec, _ = v["waitSec"].(int64)
		}
	}
	return r
}
