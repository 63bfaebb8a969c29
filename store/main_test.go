package store

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/telemed/videocalls/hms"
	"github.com/telemed/videocalls/internal/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// newStore opens a Store on a wiped emulator project.
func newStore(tb testing.TB, project string) *Store {
	tb.Helper()
	emulatortest.Firestore(tb)
	emulatortest.Wipe(tb, project)
	s, err := Open(context.Background(), project)
	if err != nil {
		tb.Fatal(err)
	}
	s.SetWaitingRole(testWaitingRole)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// testWaitingRole is the waiting room's role in the store's tests.
const testWaitingRole = "waiting-room"

// instances opens n more Stores on project without wiping it, as n more
// function instances: each remembers the events it stored (seen.go), so
// only deliveries spread over instances reach Firestore's own guard.
func instances(tb testing.TB, project string, n int) []*Store {
	tb.Helper()
	out := make([]*Store, n)
	for i := range out {
		s, err := Open(context.Background(), project)
		if err != nil {
			tb.Fatal(err)
		}
		s.SetWaitingRole(testWaitingRole)
		tb.Cleanup(func() { _ = s.Close() })
		out[i] = s
	}
	return out
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// seed writes an appointment and records its room, as hmsToken would.
func seed(tb testing.TB, s *Store, apptID, roomID string) {
	tb.Helper()
	ctx := ctxT(tb)
	_, err := s.fs.Collection(colAppointments).Doc(apptID).Set(ctx, map[string]any{
		"doctorId": "doc-uid", "clientId": "client-uid",
	})
	if err != nil {
		tb.Fatal(err)
	}
	appt, err := s.AppointmentAndCall(ctx, apptID)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = s.RecordRoom(ctx, appt, Room{ID: roomID, Name: "demo-" + apptID, TemplateID: "tmpl-1"}, nil)
	if err != nil {
		tb.Fatal(err)
	}
}

func apply(tb testing.TB, s *Store, raw []byte) ApplyResult {
	tb.Helper()
	ev, err := hms.ParseEvent(raw)
	if err != nil {
		tb.Fatalf("parse %s: %v", raw, err)
	}
	res, err := s.ApplyEvent(ctxT(tb), ev, raw)
	if err != nil {
		tb.Fatalf("apply %s: %v", ev.ID, err)
	}
	return res
}

// volatile are the fields allowed to differ between two orders (docs/webhook.md).
var volatile = []string{"updatedAt", "createdAt", "receivedAt"}

// dump reads calls/{appt} and its subcollections into one comparable map,
// without the volatile top-level fields.
func dump(tb testing.TB, s *Store, appt string) map[string]any {
	tb.Helper()
	ctx := ctxT(tb)
	out := map[string]any{}
	snap, err := s.callRef(appt).Get(ctx)
	if err != nil {
		tb.Fatalf("read call: %v", err)
	}
	out["call"] = strip(snap.Data())
	for _, col := range []string{colSessions, colRecordings, colTranscripts, colFailures} {
		docs, err := s.callRef(appt).Collection(col).Documents(ctx).GetAll()
		if err != nil {
			tb.Fatal(err)
		}
		m := map[string]any{}
		for _, d := range docs {
			if col == colRecordings {
				// A recording's createdAt is a merged field (the time
				// of the event whose status stands), not a server time:
				// it must not differ between orders.
				m[d.Ref.ID] = d.Data()
				continue
			}
			m[d.Ref.ID] = strip(d.Data())
		}
		out[col] = m
	}
	return out
}

func strip(m map[string]any) map[string]any {
	for _, k := range volatile {
		delete(m, k)
	}
	return m
}

func countDocs(tb testing.TB, s *Store, col string) int {
	tb.Helper()
	docs, err := s.fs.Collection(col).Documents(ctxT(tb)).GetAll()
	if err != nil {
		tb.Fatal(err)
	}
	return len(docs)
}

// diff names the first differing paths of two dumps, for a readable failure.
func diff(a, b any, path string, out *[]string) {
	if len(*out) > 10 {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			diff(am[k], bm[k], path+"."+k, out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path+": "+short(a)+" != "+short(b))
	}
}

func short(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// applyRacing delivers each body at once, round-robin over insts (other
// instances of one project), and returns the results of those applied.
// Errors are reported with t.Errorf: t.Fatal must not be called from
// another goroutine.
func applyRacing(t *testing.T, insts []*Store, raws [][]byte) []ApplyResult {
	t.Helper()
	results := make(chan ApplyResult, len(raws))
	var wg sync.WaitGroup
	for i, raw := range raws {
		wg.Go(func() {
			ev, err := hms.ParseEvent(raw)
			if err != nil {
				t.Error(err)
				return
			}
			res, err := insts[i%len(insts)].ApplyEvent(ctxT(t), ev, raw)
			if err != nil {
				t.Errorf("apply %s: %v", ev.ID, err)
				return
			}
			results <- res
		})
	}
	wg.Wait()
	close(results)
	var out []ApplyResult
	for res := range results {
		out = append(out, res)
	}
	return out
}
