package emulatortest

import (
	"context"
	"os"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/auth"
)

func newAuthClient(t *testing.T) *auth.Client {
	t.Helper()
	ctx := context.Background()
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: AuthProject})
	if err != nil {
		t.Fatalf("firebase app: %v", err)
	}
	c, err := app.Auth(ctx)
	if err != nil {
		t.Fatalf("auth client: %v", err)
	}
	return c
}

func TestAuthEmulatorTokens(t *testing.T) {
	host := Auth(t)
	if got := os.Getenv(AuthEmulatorHostEnv); got != host {
		t.Fatalf("%s = %q, want %q", AuthEmulatorHostEnv, got, host)
	}
	if again := Auth(t); again != host {
		t.Fatalf("second Auth = %q, want the same emulator %q", again, host)
	}
	WipeAuth(t, host, AuthProject)
	client := newAuthClient(t)
	ctx := context.Background()

	uid, token := SignUp(t, host, AuthProject, "doctor@example.com", "secret-password")
	got, err := client.VerifyIDTokenAndCheckRevoked(ctx, token)
	if err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	if got.UID != uid {
		t.Fatalf("token uid = %q, want %q", got.UID, uid)
	}

	refused := []struct {
		name  string
		token string
		is    func(error) bool
	}{
		{"expired", ExpiredIDToken(AuthProject, uid), auth.IsIDTokenExpired},
		{"other project", UnsignedIDToken("demo-other-project", uid, time.Now(), time.Now().Add(time.Hour)), auth.IsIDTokenInvalid},
		{"garbage", "not-a-jwt", auth.IsIDTokenInvalid},
	}
	for _, c := range refused {
		if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, c.token); !c.is(err) {
			t.Errorf("%s token: err = %v", c.name, err)
		}
	}
	// A crafted token is accepted like the emulator's own, provided it is not
	// older than the user (creation sets validSince).
	crafted := UnsignedIDToken(AuthProject, uid, time.Now(), time.Now().Add(time.Hour))
	if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, crafted); err != nil {
		t.Errorf("well-formed unsigned token for an existing user refused: %v", err)
	}

	RevokeTokens(t, host, AuthProject, uid)
	if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, token); !auth.IsIDTokenRevoked(err) {
		t.Fatalf("revoked token: err = %v, want revoked", err)
	}
	fresh := SignIn(t, host, AuthProject, "doctor@example.com", "secret-password")
	if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, fresh); err != nil {
		t.Fatalf("token issued after the revocation refused: %v", err)
	}

	uid2, token2 := SignUp(t, host, AuthProject, "client@example.com", "secret-password")
	DisableUser(t, host, AuthProject, uid2)
	if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, token2); !auth.IsUserDisabled(err) {
		t.Fatalf("disabled user's token: err = %v, want user disabled", err)
	}

	uid3, token3 := SignUp(t, host, AuthProject, "other@example.com", "secret-password")
	DeleteUser(t, host, AuthProject, uid3)
	if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, token3); !auth.IsUserNotFound(err) {
		t.Fatalf("deleted user's token: err = %v, want user not found", err)
	}

	WipeAuth(t, host, AuthProject)
	if _, err := client.VerifyIDTokenAndCheckRevoked(ctx, fresh); err == nil {
		t.Fatal("token of a wiped user accepted")
	}
}

func TestUnsignedIDTokenClaims(t *testing.T) {
	iat := time.Unix(1_700_000_000, 0)
	claims, err := DecodeIDToken(UnsignedIDToken("demo-x", "u1", iat, iat.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"aud": "demo-x", "iss": "https://securetoken.google.com/demo-x", "sub": "u1",
		"iat": float64(iat.Unix()), "exp": float64(iat.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
}
