package functions

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/telemed/videocalls/internal/emulatortest"
	"github.com/telemed/videocalls/internal/fake100ms"
)

type e2eUser struct{ uid, idToken string }

func (e *e2eEnv) signUp(t *testing.T, name string) e2eUser {
	t.Helper()
	email := fmt.Sprintf("%s-%s@example.com", name, uuid.NewString()[:8])
	uid, tok := emulatortest.SignUp(t, e.auth, e.project, email, "password-123")
	e.remember(tok)
	return e2eUser{uid: uid, idToken: tok}
}

func TestE2ETokenRolesAndClaims(t *testing.T) {
	e := setupE2E(t)
	doctor, client, stranger := e.signUp(t, "doctor"), e.signUp(t, "client"), e.signUp(t, "stranger")
	now := time.Now()
	apptID := "appt-roles-" + uuid.NewString()[:8]
	e.seedAppointment(t, apptID, map[string]any{
		"doctorId": doctor.uid, "clientId": client.uid,
		"startAt": now.Add(-5 * time.Minute), "endAt": now.Add(30 * time.Minute),
	})
	createsBefore := e.fake.RoomRequests()

	var roomID string
	for _, tc := range []struct {
		user e2eUser
		role string
	}{{doctor, "host"}, {client, "guest"}} {
		code, ans := e.callToken(t, tc.user.idToken, apptID)
		if code != http.StatusOK || ans.Result == nil {
			t.Fatalf("%s: code %d, answer %+v", tc.role, code, ans.Error)
		}
		res := ans.Result
		if res["role"] != tc.role || res["userId"] != tc.user.uid {
			t.Errorf("result = %v, want role %s for %s", res, tc.role, tc.user.uid)
		}
		claims, err := fake100ms.VerifyJoinToken(e2eSecret, res["token"].(string))
		if err != nil {
			t.Fatalf("join token does not verify: %v", err)
		}
		if claims.AccessKey != e2eAccessKey || claims.UserID != tc.user.uid || claims.Role != tc.role || claims.RoomID != res["roomId"] {
			t.Errorf("claims = %+v, result = %v", claims, res)
		}
		if _, err := uuid.Parse(claims.ID); err != nil {
			t.Errorf("jti %q is not a UUID", claims.ID)
		}
		if claims.IssuedAt.After(now) || now.Sub(claims.IssuedAt) > time.Minute || !claims.NotBefore.Equal(claims.IssuedAt) {
			t.Errorf("iat %v / nbf %v not a few seconds before %v", claims.IssuedAt, claims.NotBefore, now)
		}
		exp, err := time.Parse(time.RFC3339, res["expiresAt"].(string))
		if err != nil || !exp.Equal(claims.ExpiresAt) {
			t.Errorf("expiresAt %v != exp %v (%v)", res["expiresAt"], claims.ExpiresAt, err)
		}
		// HMS_TOKEN_TTL is 2h but the appointment ends in 30m and JOIN_LATE
		// is 1h: the token must not outlive the join window.
		if limit := now.Add(90 * time.Minute); exp.After(limit.Add(time.Second)) || exp.Before(limit.Add(-time.Minute)) {
			t.Errorf("exp %v, want about endAt+JOIN_LATE %v", exp, limit)
		}
		if roomID == "" {
			roomID = claims.RoomID
		} else if claims.RoomID != roomID {
			t.Errorf("doctor and client got different rooms %s and %s", roomID, claims.RoomID)
		}
	}
	if got := e.fake.RoomRequests() - createsBefore; got != 1 {
		t.Errorf("100ms room creations = %d, want 1 (the second call reuses the stored room)", got)
	}
	call := e.doc(t, "calls/"+apptID)
	if call["roomId"] != roomID || call["status"] != "idle" || call["doctorId"] != doctor.uid || call["clientId"] != client.uid {
		t.Errorf("calls/%s = %v", apptID, call)
	}
	if m := e.doc(t, "hmsRooms/"+roomID); m["appointmentId"] != apptID {
		t.Errorf("hmsRooms/%s = %v", roomID, m)
	}

	code, ans := e.callToken(t, stranger.idToken, apptID)
	wantCallError(t, "stranger", code, ans, http.StatusForbidden, "PERMISSION_DENIED")
}

func TestE2ETokenRefusals(t *testing.T) {
	e := setupE2E(t)
	doctor, client := e.signUp(t, "doctor"), e.signUp(t, "client")
	now := time.Now()
	seed := func(name string, fields map[string]any) string {
		id := name + "-" + uuid.NewString()[:8]
		base := map[string]any{"doctorId": doctor.uid, "clientId": client.uid}
		for k, v := range fields {
			base[k] = v
		}
		e.seedAppointment(t, id, base)
		return id
	}
	open := seed("open", map[string]any{"startAt": now, "endAt": now.Add(time.Hour)})

	revoked, disabled := e.signUp(t, "revoked"), e.signUp(t, "disabled")
	emulatortest.RevokeTokens(t, e.auth, e.project, revoked.uid)
	emulatortest.DisableUser(t, e.auth, e.project, disabled.uid)
	time.Sleep(1100 * time.Millisecond) // revocation has one-second resolution

	expired := emulatortest.ExpiredIDToken(e.project, doctor.uid)
	otherProject := emulatortest.UnsignedIDToken("demo-other-project", doctor.uid, now.Add(-time.Minute), now.Add(time.Hour))
	e.remember(expired, otherProject)

	cases := []struct {
		name       string
		idToken    string
		appt       string
		wantCode   int
		wantStatus string
	}{
		{"no ID token", "", open, 401, "UNAUTHENTICATED"},
		{"garbage ID token", "not-a-jwt", open, 401, "UNAUTHENTICATED"},
		{"expired ID token", expired, open, 401, "UNAUTHENTICATED"},
		{"ID token of another project", otherProject, open, 401, "UNAUTHENTICATED"},
		{"revoked ID token", revoked.idToken, open, 401, "UNAUTHENTICATED"},
		{"disabled user", disabled.idToken, open, 401, "UNAUTHENTICATED"},
		{"unknown appointment", doctor.idToken, "no-such-appointment", 403, "PERMISSION_DENIED"},
		{"cancelled", doctor.idToken, seed("cancelled", map[string]any{"status": "Cancelled"}), 400, "FAILED_PRECONDITION"},
		{"canceled", client.idToken, seed("canceled", map[string]any{"status": "canceled"}), 400, "FAILED_PRECONDITION"},
		{"too early", doctor.idToken, seed("early", map[string]any{"startAt": now.Add(20 * time.Minute)}), 400, "FAILED_PRECONDITION"},
		{"too late", client.idToken, seed("late", map[string]any{"endAt": now.Add(-61 * time.Minute)}), 400, "FAILED_PRECONDITION"},
		{"no doctorId, asked by its client", client.idToken, seed("malformed", map[string]any{"doctorId": nil}), 400, "FAILED_PRECONDITION"},
		// The doctor is named nowhere readable: for this caller the
		// appointment is not theirs, and its state is not told.
		{"no doctorId, asked by the doctor", doctor.idToken, seed("malformed3", map[string]any{"doctorId": nil}), 403, "PERMISSION_DENIED"},
		{"numeric clientId", doctor.idToken, seed("malformed2", map[string]any{"clientId": 42}), 400, "FAILED_PRECONDITION"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, ans := e.callToken(t, tc.idToken, tc.appt)
			wantCallError(t, tc.name, code, ans, tc.wantCode, tc.wantStatus)
		})
	}
	if call := e.doc(t, "calls/"+open); call != nil {
		t.Errorf("refused calls created calls/%s: %v", open, call)
	}

	// Within the window on both sides: early by less than JOIN_EARLY, late
	// by less than JOIN_LATE.
	for _, fields := range []map[string]any{
		{"startAt": now.Add(10 * time.Minute)},
		{"endAt": now.Add(-50 * time.Minute)},
		{"status": "confirmed"},
	} {
		if code, ans := e.callToken(t, doctor.idToken, seed("window", fields)); code != 200 {
			t.Errorf("appointment %v: code %d, %+v", fields, code, ans.Error)
		}
	}
}

func TestE2ETokenWhen100msIsDown(t *testing.T) {
	e := setupE2E(t)
	doctor := e.signUp(t, "doctor")
	apptID := "down-" + uuid.NewString()[:8]
	e.seedAppointment(t, apptID, map[string]any{"doctorId": doctor.uid, "clientId": "someone"})

	e.fake.SetDown(true)
	code, ans := e.callToken(t, doctor.idToken, apptID)
	e.fake.SetDown(false)
	wantCallError(t, "100ms down", code, ans, http.StatusServiceUnavailable, "UNAVAILABLE")
	if call := e.doc(t, "calls/"+apptID); call != nil && call["roomId"] != nil {
		t.Errorf("a room was recorded although 100ms was down: %v", call)
	}
	// The app retries, as UNAVAILABLE tells it to, and gets in.
	if code, ans := e.callToken(t, doctor.idToken, apptID); code != 200 {
		t.Fatalf("retry after 100ms is back: code %d, %+v", code, ans.Error)
	}
}

// TestE2EConcurrentFirstCallsMakeOneRoom races the first calls of one
// appointment against a 100ms that makes a new room for every create, so
// that racing callers each hold another room: only the store's "first
// room recorded wins" makes them agree. (Against 100ms's create-by-name the
// racers would get one room whatever the store did.) Caught: the store's
// record step overwriting a recorded room (losers answer their own rooms,
// and several hmsRooms documents name the appointment).
func TestE2EConcurrentFirstCallsMakeOneRoom(t *testing.T) {
	e := setupE2E(t)
	doctor, client := e.signUp(t, "doctor"), e.signUp(t, "client")
	apptID := "race-" + uuid.NewString()[:8]
	e.seedAppointment(t, apptID, map[string]any{"doctorId": doctor.uid, "clientId": client.uid})
	e.fake.SetNewRoomPerCreate(true)
	defer e.fake.SetNewRoomPerCreate(false)
	roomsBefore := e.fake.RoomCount()

	const n = 20
	rooms := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := doctor
			if i%2 == 1 {
				user = client
			}
			code, ans := e.callToken(t, user.idToken, apptID)
			if code != 200 {
				t.Errorf("call %d: code %d, %+v", i, code, ans.Error)
				return
			}
			rooms[i], _ = ans.Result["roomId"].(string)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	created := e.fake.RoomCount() - roomsBefore
	t.Logf("%d racing calls created %d rooms at 100ms", n, created)
	for i, r := range rooms {
		if r != rooms[0] {
			t.Errorf("call %d got room %q, call 0 got %q (100ms made %d rooms)", i, r, rooms[0], created)
		}
	}
	if call := e.doc(t, "calls/"+apptID); call["roomId"] != rooms[0] {
		t.Errorf("calls/%s.roomId = %v, answered %s", apptID, call["roomId"], rooms[0])
	}
	snaps, err := e.fs.Collection("hmsRooms").Where("appointmentId", "==", apptID).Documents(context.Background()).GetAll()
	if err != nil {
		t.Fatalf("query hmsRooms: %v", err)
	}
	if len(snaps) != 1 || snaps[0].Ref.ID != rooms[0] {
		ids := make([]string, len(snaps))
		for i, s := range snaps {
			ids[i] = s.Ref.ID
		}
		t.Errorf("hmsRooms naming %s: %v, want exactly [%s]", apptID, ids, rooms[0])
	}
	// A later call gets the recorded room too, also from a cache.
	if code, ans := e.callToken(t, doctor.idToken, apptID); code != 200 || ans.Result["roomId"] != rooms[0] {
		t.Errorf("a later call: code %d, room %v, want %s", code, ans.Result["roomId"], rooms[0])
	}
}

func TestE2ETokenCORSAndFlutterPath(t *testing.T) {
	e := setupE2E(t)
	req, _ := http.NewRequest(http.MethodOptions, e.baseURL+"/"+e.project+"/us-central1/hmsToken", nil)
	req.Header.Set("Origin", "http://localhost:5000")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5000" {
		t.Errorf("preflight on the emulator path: %d %v", resp.StatusCode, resp.Header)
	}
}

func wantCallError(t *testing.T, name string, code int, ans callableAnswer, wantCode int, wantStatus string) {
	t.Helper()
	if code != wantCode || ans.Error == nil || ans.Error.Status != wantStatus {
		t.Errorf("%s: code %d, error %+v; want %d %s", name, code, ans.Error, wantCode, wantStatus)
		return
	}
	if ans.Error.Message == "" {
		t.Errorf("%s: empty message", name)
	}
	if ans.Result != nil {
		t.Errorf("%s: an error carries a result", name)
	}
}

// TestE2ETokenRefusalsDoNotWaitOnFirestore pauses Firestore: a caller whose
// ID token is bad, expired, revoked or of a disabled user must still get
// 401 at once, since nothing is read for a caller not signed in.
func TestE2ETokenRefusalsDoNotWaitOnFirestore(t *testing.T) {
	e := setupE2E(t)
	if e.fsEmu == nil {
		t.Fatal("this test needs an emulator started by the tests (unset FIRESTORE_EMULATOR_HOST)")
	}
	doctor := e.signUp(t, "doctor-paused")
	revoked, disabled := e.signUp(t, "revoked-paused"), e.signUp(t, "disabled-paused")
	now := time.Now()
	appt := "appt-paused-" + strconv.FormatInt(now.UnixNano(), 36)
	e.seedAppointment(t, appt, map[string]any{
		"doctorId": doctor.uid, "clientId": revoked.uid, "startAt": now, "endAt": now.Add(time.Hour),
	})
	emulatortest.RevokeTokens(t, e.auth, e.project, revoked.uid)
	emulatortest.DisableUser(t, e.auth, e.project, disabled.uid)
	time.Sleep(1100 * time.Millisecond) // revocation has one-second resolution
	expired := emulatortest.ExpiredIDToken(e.project, doctor.uid)
	e.remember(expired)

	if err := e.fsEmu.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.fsEmu.Resume(); err != nil {
			t.Fatal(err)
		}
	}()
	for _, tc := range []struct{ name, idToken string }{
		{"garbage", "not-a-jwt"},
		{"expired", expired},
		{"revoked", revoked.idToken},
		{"disabled", disabled.idToken},
	} {
		start := time.Now()
		code, ans := e.callToken(t, tc.idToken, appt)
		took := time.Since(start)
		wantCallError(t, tc.name, code, ans, 401, "UNAUTHENTICATED")
		if took > 3*time.Second {
			t.Errorf("%s: the 401 took %v with Firestore paused: it waited on the appointment read", tc.name, took)
		}
	}
	// The signed-in doctor does need Firestore: 503, within the deadline.
	start := time.Now()
	code, ans := e.callToken(t, doctor.idToken, appt)
	wantCallError(t, "doctor, Firestore paused", code, ans, 503, "UNAVAILABLE")
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("the 503 took %v", took)
	}
}
