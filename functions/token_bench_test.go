package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

// BenchmarkHmsToken measures the hmsToken handler in process, on the
// Firestore and Auth emulators, in its steady state: signed-in users whose
// appointments already have a room (the first call per appointment, which
// creates the room at a fake 100ms, happens before the timer starts). Each
// iteration is one request: ID-token verification (the Admin SDK asks the
// Auth emulator for the user, as it asks Google in production), the
// appointment read, the room (remembered by the store after its first
// read), the join token, the answer and the log
// line. Run it with -benchmem for allocations per request and -cpuprofile
// for where the time goes:
//
//	go test -run '^$' -bench BenchmarkHmsToken -benchmem -cpuprofile cpu.out ./functions
//	go tool pprof -top functions.test cpu.out
func BenchmarkHmsToken(b *testing.B) {
	emulatortest.Firestore(b)
	authHost := emulatortest.Auth(b)
	project := emulatortest.AuthProject
	fake := fake100ms.New(testSecret)
	defer fake.Close()
	a := newApp(testEnv(map[string]string{
		envProject:   project,
		envAPIBase:   fake.URL,
		envTokenTTL:  "2h",
		envJoinEarly: "15m",
		envJoinLate:  "1h",
	}), newLogger(io.Discard))
	h := a.tokenHandler()
	fs, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()

	// Sixteen users, paired into eight appointments open now.
	type call struct{ idToken, body string }
	var calls []call
	now := time.Now()
	run := uuid.NewString()[:8]
	for i := 0; i < 16; i += 2 {
		doctorUID, doctorTok := emulatortest.SignUp(b, authHost, project, fmt.Sprintf("bench-d%d-%s@example.com", i, run), "password-123")
		clientUID, clientTok := emulatortest.SignUp(b, authHost, project, fmt.Sprintf("bench-c%d-%s@example.com", i, run), "password-123")
		appt := fmt.Sprintf("bench-%s-%d", run, i)
		if _, err := fs.Collection("appointments").Doc(appt).Set(context.Background(), map[string]any{
			"doctorId": doctorUID, "clientId": clientUID,
			"startAt": now.Add(-5 * time.Minute), "endAt": now.Add(time.Hour),
		}); err != nil {
			b.Fatal(err)
		}
		body := `{"data":{"appointmentId":"` + appt + `"}}`
		calls = append(calls, call{doctorTok, body}, call{clientTok, body})
	}
	do := func(c call) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/hmsToken", bytes.NewReader([]byte(c.body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.idToken)
		rec := httptest.NewRecorder()
		h(rec, req)
		return rec
	}
	// Warm-up: the first calls create the rooms and open the clients; the
	// rest let the emulators' JVM and Node warm up, which otherwise makes
	// whichever variant runs first look slower.
	for i := range 20 * len(calls) {
		if rec := do(calls[i%len(calls)]); rec.Code != http.StatusOK {
			b.Fatalf("warm-up: %d %s", rec.Code, rec.Body)
		}
	}

	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rec := do(calls[i%len(calls)])
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	var ans callableAnswer
	if err := json.Unmarshal(do(calls[0]).Body.Bytes(), &ans); err != nil || ans.Result["token"] == nil {
		b.Fatalf("last answer: %v %+v", err, ans)
	}
}
