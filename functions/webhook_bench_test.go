package functions

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
	"github.com/telemed/videocalls/internal/sessiongen"
	"github.com/telemed/videocalls/store"
)

// BenchmarkHmssWebhook measures the hmssWebhook handler in process, on the
// Firestore emulator: one iteration is one delivery of a generated event,
// new ones in time order ("new", each an atomic write), or a redelivery of
// one this instance stored ("redelivery", answered from its memory). With
// -benchmem it gives allocations per delivery, with -cpuprofile where the
// server's time goes (scripts/loadtest gives the same under concurrent
// load, HTTP included):
//
//	go test -run '^$' -bench BenchmarkHmssWebhook -benchmem -cpuprofile cpu.out ./functions
//	go tool pprof -top functions.test cpu.out
func BenchmarkHmssWebhook(b *testing.B) {
	emulatortest.Firestore(b)
	project := "demo-bench-webhook-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	// The fake 100ms knows no session: the reconciliation after each
	// session close gets a quick 404, as for a session 100ms forgot.
	fake := fake100ms.New(testSecret)
	defer fake.Close()
	a := newApp(testEnv(map[string]string{
		envProject:       project,
		envWebhookSecret: testWebhookSecret,
		envAPIBase:       fake.URL,
	}), newLogger(io.Discard))
	h := a.webhookHandler()
	ctx := context.Background()
	st, err := store.Open(ctx, project)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	// Enough sessions for the longest run the benchmark asks for; the
	// rooms are recorded as hmsToken would record them.
	rooms := sessiongen.New(sessiongen.Config{Seed: 3, Prefix: "bw", MaxSessions: 2}).Rooms(12000)
	for _, r := range rooms {
		appt := store.Appointment{ID: r.AppointmentID, DoctorID: "d-" + r.AppointmentID, ClientID: "c-" + r.AppointmentID}
		if _, err := st.RecordRoom(ctx, appt, store.Room{ID: r.ID, Name: r.Name, TemplateID: r.TemplateID}, nil); err != nil {
			b.Fatal(err)
		}
	}
	events := sessiongen.All(rooms)
	deliver := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/hmssWebhook", bytes.NewReader(body))
		req.Header.Set("X-Webhook-Secret", testWebhookSecret)
		rec := httptest.NewRecorder()
		h(rec, req)
		return rec
	}
	// Warm-up, untimed: the emulator's JIT and the clients.
	const warm = 2000
	for _, e := range events[:warm] {
		if rec := deliver(e.Body); rec.Code != http.StatusOK {
			b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
		}
	}
	next := warm

	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if next == len(events) {
				b.Fatalf("ran out of generated events after %d", len(events))
			}
			rec := deliver(events[next].Body)
			next++
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"stored"`)) {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.Run("redelivery", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			rec := deliver(events[i%warm].Body)
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"duplicate"`)) {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}
