package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const auditProject = "demo-audit-trail"

var auditT0 = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// auditSeed is the trail TestAuditTrail reads, in the order it is written
// (not the order it is read): three entries share one time, and one sits
// a microsecond after another.
var auditSeed = []struct {
	id        string
	at        time.Duration // after auditT0
	appt, uid string
}{
	{"e05", 3 * time.Second, "A", "system"},
	{"e02", time.Second, "A", "client"},
	{"e07", time.Hour, "A", "client"},
	{"e01", 0, "A", "doctor"},
	{"e04", 2 * time.Second, "B", "client"},
	{"e03", time.Second, "B", "doctor"},
	{"e06", 3*time.Second + time.Microsecond, "A", "doctor"},
	{"e00", time.Second, "A", "guest"},
}

func writeAuditEntry(tb testing.TB, s *Store, id string, data map[string]any) {
	tb.Helper()
	if _, err := s.fs.Collection(colAudit).Doc(id).Set(ctxT(tb), data); err != nil {
		tb.Fatalf("write audit entry %s: %v", id, err)
	}
}

func auditIDs(tb testing.TB, s *Store, f AuditFilter) []string {
	tb.Helper()
	var ids []string
	var prev AuditEntry
	err := s.AuditTrail(ctxT(tb), f, func(e AuditEntry) error {
		if len(ids) > 0 && (e.At.Before(prev.At) || e.At.Equal(prev.At) && e.ID <= prev.ID) {
			tb.Errorf("%s (%s) after %s (%s): out of order", e.ID, e.At, prev.ID, prev.At)
		}
		ids, prev = append(ids, e.ID), e
		return nil
	})
	if err != nil {
		tb.Fatalf("AuditTrail(%+v): %v", f, err)
	}
	return ids
}

func setAuditPageSize(tb testing.TB, n int) {
	tb.Helper()
	old := auditPageSize
	auditPageSize = n
	tb.Cleanup(func() { auditPageSize = old })
}

// TestAuditTrail: order (time, then document id, whatever the order of
// writing), each filter and their combinations, the bounds (since
// inclusive, until exclusive), with pages of every size from one entry up,
// so that page boundaries fall inside runs of equal times and inside runs
// the in-memory uid filter drops.
func TestAuditTrail(t *testing.T) {
	s := newStore(t, auditProject)
	for _, e := range auditSeed {
		writeAuditEntry(t, s, e.id, map[string]any{
			"at": auditT0.Add(e.at), "action": "token", "outcome": "granted", "uid": e.uid, "role": e.uid,
			"appointmentId": e.appt, "requestId": "req-" + e.id, "appCheck": "verified", "ip": "203.0.113.7",
		})
	}
	at := func(d time.Duration) time.Time { return auditT0.Add(d) }
	cases := []struct {
		name string
		f    AuditFilter
		want []string
	}{
		{"all", AuditFilter{}, []string{"e01", "e00", "e02", "e03", "e04", "e05", "e06", "e07"}},
		{"appointment", AuditFilter{AppointmentID: "A"}, []string{"e01", "e00", "e02", "e05", "e06", "e07"}},
		{"other appointment", AuditFilter{AppointmentID: "B"}, []string{"e03", "e04"}},
		{"unknown appointment", AuditFilter{AppointmentID: "Z"}, nil},
		{"uid", AuditFilter{UID: "doctor"}, []string{"e01", "e03", "e06"}},
		{"system uid", AuditFilter{UID: "system"}, []string{"e05"}},
		{"appointment and uid", AuditFilter{AppointmentID: "A", UID: "doctor"}, []string{"e01", "e06"}},
		{"appointment and uid of another", AuditFilter{AppointmentID: "B", UID: "guest"}, nil},
		{"since is inclusive", AuditFilter{Since: at(time.Second)}, []string{"e00", "e02", "e03", "e04", "e05", "e06", "e07"}},
		{"until is exclusive", AuditFilter{Until: at(3 * time.Second)}, []string{"e01", "e00", "e02", "e03", "e04"}},
		{"since and until", AuditFilter{Since: at(time.Second), Until: at(3*time.Second + time.Microsecond)}, []string{"e00", "e02", "e03", "e04", "e05"}},
		{"a microsecond wide", AuditFilter{Since: at(3*time.Second + time.Microsecond), Until: at(3*time.Second + 2*time.Microsecond)}, []string{"e06"}},
		{"appointment since", AuditFilter{AppointmentID: "A", Since: at(2 * time.Second)}, []string{"e05", "e06", "e07"}},
		{"uid until", AuditFilter{UID: "client", Until: at(time.Hour)}, []string{"e02", "e04"}},
		{"all four", AuditFilter{AppointmentID: "A", UID: "client", Since: at(time.Second), Until: at(time.Hour + time.Microsecond)}, []string{"e02", "e07"}},
		{"since in another zone", AuditFilter{Since: at(time.Hour).In(time.FixedZone("UTC+5", 5*3600))}, []string{"e07"}},
		{"since after everything", AuditFilter{Since: at(2 * time.Hour)}, nil},
		{"until before everything", AuditFilter{Until: auditT0}, nil},
		{"empty range", AuditFilter{Since: at(time.Second), Until: at(time.Second)}, nil},
		{"until before since", AuditFilter{Since: at(time.Hour), Until: at(time.Second)}, nil},
	}
	for _, size := range []int{500, 1, 2, 3, 7, 8} {
		t.Run(fmt.Sprintf("page%d", size), func(t *testing.T) {
			setAuditPageSize(t, size)
			for _, tc := range cases {
				if got := auditIDs(t, s, tc.f); !slices.Equal(got, tc.want) {
					t.Errorf("%s: %+v read %v, want %v", tc.name, tc.f, got, tc.want)
				}
			}
		})
	}
}

// TestAuditTrailLongTrail: more entries than a page of the real size,
// written in one batch per 500 with the same time for many, read back
// whole and in order.
func TestAuditTrailLongTrail(t *testing.T) {
	s := newStore(t, auditProject)
	const n = 1203
	bw := s.fs.BulkWriter(ctxT(t))
	for i := range n {
		ref := s.fs.Collection(colAudit).Doc(fmt.Sprintf("long-%04d", i))
		// 100 entries per second of time: runs of equal `at` cross pages.
		if _, err := bw.Set(ref, map[string]any{"at": auditT0.Add(time.Duration(i/100) * time.Second), "uid": "u", "appointmentId": "L"}); err != nil {
			t.Fatal(err)
		}
	}
	bw.End()
	for _, f := range []AuditFilter{{}, {AppointmentID: "L"}, {UID: "u"}} {
		ids := auditIDs(t, s, f)
		if len(ids) != n || ids[0] != "long-0000" || ids[n-1] != fmt.Sprintf("long-%04d", n-1) {
			t.Errorf("%+v: read %d entries (%v ... %v), want %d in order", f, len(ids), ids[:min(3, len(ids))], ids[max(0, len(ids)-3):], n)
		}
		if len(ids) != len(slices.Compact(slices.Clone(ids))) {
			t.Errorf("%+v: an entry read twice", f)
		}
	}
}

// TestAuditTrailEntry: every field as the functions write it, details
// with a string, a bool and a timestamp; absent fields are "".
func TestAuditTrailEntry(t *testing.T) {
	s := newStore(t, auditProject)
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456000, time.UTC)
	expires := at.Add(4 * time.Hour)
	zone := time.FixedZone("CET", 3600)
	writeAuditEntry(t, s, "7f0c2a3e-0b5e-4a7a-9d64-2f7e7c0d9a11", map[string]any{
		"at": at.In(zone), "action": "token", "outcome": "granted", "uid": "doc-uid", "role": "doctor",
		"appointmentId": "appt-1", "roomId": "room-1", "requestId": "trace-1", "appCheck": "verified", "ip": "203.0.113.9",
		"details": map[string]any{"role": "host", "jti": "j-1", "expiresAt": expires.In(zone), "waiting": false},
	})
	writeAuditEntry(t, s, "8a1d", map[string]any{
		"at": at.Add(time.Second), "action": "recordingUrl", "outcome": "refused", "reason": "not a participant",
		"uid": "stranger", "role": "none", "appointmentId": "appt-1", "requestId": "trace-2", "appCheck": "missing", "ip": "198.51.100.1",
	})
	var got []AuditEntry
	if err := s.AuditTrail(ctxT(t), AuditFilter{}, func(e AuditEntry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []AuditEntry{{
		ID: "7f0c2a3e-0b5e-4a7a-9d64-2f7e7c0d9a11", At: at, Action: "token", Outcome: "granted", UID: "doc-uid", Role: "doctor",
		AppointmentID: "appt-1", RoomID: "room-1", RequestID: "trace-1", AppCheck: "verified", IP: "203.0.113.9",
		Details: map[string]any{"role": "host", "jti": "j-1", "expiresAt": expires, "waiting": false},
	}, {
		ID: "8a1d", At: at.Add(time.Second), Action: "recordingUrl", Outcome: "refused", Reason: "not a participant",
		UID: "stranger", Role: "none", AppointmentID: "appt-1", RequestID: "trace-2", AppCheck: "missing", IP: "198.51.100.1",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read\n%#v\nwant\n%#v", got, want)
	}
	if len(got) > 0 && got[0].At.Location() != time.UTC {
		t.Errorf("At in %v, want UTC", got[0].At.Location())
	}
}

// TestAuditTrailErrors: the callback's error stops the walk and comes back
// as it is; Firestore's (here a cancelled context) come back as the
// store's *Error, naming the filter.
func TestAuditTrailErrors(t *testing.T) {
	s := newStore(t, auditProject)
	for i := range 5 {
		writeAuditEntry(t, s, fmt.Sprintf("x%d", i), map[string]any{"at": auditT0.Add(time.Duration(i) * time.Second), "uid": "u"})
	}
	setAuditPageSize(t, 2)
	stop := errors.New("stop here")
	calls := 0
	err := s.AuditTrail(ctxT(t), AuditFilter{}, func(AuditEntry) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 3 {
		t.Errorf("callback error: got %v after %d calls, want %v after 3", err, calls, stop)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = s.AuditTrail(ctx, AuditFilter{UID: "u"}, func(AuditEntry) error { return nil })
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "read audit trail (uid u)") {
		t.Errorf("cancelled: %v (%T), want a *store.Error, ErrUnavailable, naming the filter", err, err)
	}
}

// TestAuditTrailIndexes: every query AuditTrail runs has its index in
// ../firestore.indexes.json (the emulator does not ask for indexes;
// Firestore refuses a query without one, FAILED_PRECONDITION).
func TestAuditTrailIndexes(t *testing.T) {
	raw, err := os.ReadFile("../firestore.indexes.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Indexes []struct {
			CollectionGroup, QueryScope string
			Fields                      []struct{ FieldPath, Order string }
		}
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	has := func(fields ...string) bool {
		for _, ix := range file.Indexes {
			var got []string
			for _, f := range ix.Fields {
				got = append(got, f.FieldPath+" "+f.Order)
			}
			if ix.CollectionGroup == colAudit && ix.QueryScope == "COLLECTION" && slices.Equal(got, fields) {
				return true
			}
		}
		return false
	}
	for _, f := range []AuditFilter{
		{}, {AppointmentID: "a"}, {UID: "u"}, {AppointmentID: "a", UID: "u"},
		{Since: auditT0}, {AppointmentID: "a", Until: auditT0}, {UID: "u", Since: auditT0, Until: auditT0.Add(time.Hour)},
		{AppointmentID: "a", UID: "u", Since: auditT0},
	} {
		p := planAudit(f)
		if p.eqField == "" {
			continue // `at` alone: its automatic single-field index
		}
		if !has(p.eqField+" ASCENDING", "at ASCENDING") {
			t.Errorf("%+v queries %s == and orders by at: no auditLog index (%s ASCENDING, at ASCENDING) in firestore.indexes.json", f, p.eqField, p.eqField)
		}
	}
	// The in-memory uid filter is only ever beside an appointment.
	if p := planAudit(AuditFilter{UID: "u"}); p.keepUID != "" || p.eqField != "uid" {
		t.Errorf("uid alone: plan %+v, want the uid query", p)
	}
}

// TestAuditTrailReadsWriteAudit: what WriteAudit writes (server time,
// absent reason and roomId, clipped text, details) reads back field for
// field, in the order written.
func TestAuditTrailReadsWriteAudit(t *testing.T) {
	s := newStore(t, auditProject)
	ctx := ctxT(t)
	before := time.Now().Add(-time.Minute) // the emulator's clock is this machine's
	expires := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	written := []*Audit{
		{Action: "token", Outcome: AuditGranted, UID: "doc-uid", Role: "doctor", AppointmentID: "appt-w", RoomID: "room-w",
			RequestID: "req-w1", AppCheck: "verified", IP: "203.0.113.5", Details: map[string]any{"role": "host", "jti": "j-w", "expiresAt": expires}},
		{Action: "recordingUrl", Outcome: AuditRefused, Reason: "not a participant", UID: "stranger", Role: "none",
			AppointmentID: "appt-w", RequestID: "req-w2", AppCheck: "missing", IP: "198.51.100.5"},
		{Action: "sweep.close", Outcome: AuditGranted, UID: SystemUID, Role: "system", AppointmentID: "appt-w", RoomID: "room-w",
			RequestID: "req-w3", AppCheck: "missing", Details: map[string]any{"lock": true}},
	}
	for _, a := range written {
		if err := s.WriteAudit(ctx, a); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct server times, so the order is the writes'
	}
	after := time.Now().Add(time.Minute)
	var got []AuditEntry
	if err := s.AuditTrail(ctx, AuditFilter{AppointmentID: "appt-w"}, func(e AuditEntry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(written) {
		t.Fatalf("read %d entries, want %d: %+v", len(got), len(written), got)
	}
	for i, a := range written {
		e := got[i]
		if e.At.Before(before) || e.At.After(after) {
			t.Errorf("entry %d at %s, want the server's time of the write", i, e.At)
		}
		want := AuditEntry{ID: a.ID, At: e.At, Action: a.Action, Outcome: a.Outcome, Reason: a.Reason, UID: a.UID, Role: a.Role,
			AppointmentID: a.AppointmentID, RoomID: a.RoomID, RequestID: a.RequestID, AppCheck: a.AppCheck, IP: a.IP, Details: a.Details}
		if !reflect.DeepEqual(e, want) {
			t.Errorf("entry %d read\n%#v\nwant\n%#v", i, e, want)
		}
	}
}
