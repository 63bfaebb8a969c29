package fake100ms

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/telemed/videocalls/hms"
)

const appSecret = "s3cr3t-value-never-printed"

// TestVerifyJoinTokenAcceptsMinted: what hms mints, 100ms (as the fake
// reads it) lets join, with the claims it was minted with.
func TestVerifyJoinTokenAcceptsMinted(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tok, exp, err := hms.JoinToken(hms.Credentials{AccessKey: "ak-123", Secret: appSecret},
		hms.JoinParams{RoomID: "room-1", UserID: "uid-1", Role: hms.RoleGuest, ID: "jti-1", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := VerifyJoinToken(appSecret, tok)
	if err != nil {
		t.Fatal(err)
	}
	want := JoinClaims{AccessKey: "ak-123", RoomID: "room-1", UserID: "uid-1", Role: "guest",
		IssuedAt: now.Add(-10 * time.Second), NotBefore: now.Add(-10 * time.Second), ExpiresAt: exp, ID: "jti-1"}
	if !c.IssuedAt.Equal(want.IssuedAt) || !c.NotBefore.Equal(want.NotBefore) || !c.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("times = %v %v %v, want %v %v %v", c.IssuedAt, c.NotBefore, c.ExpiresAt, want.IssuedAt, want.NotBefore, want.ExpiresAt)
	}
	c.IssuedAt, c.NotBefore, c.ExpiresAt = want.IssuedAt, want.NotBefore, want.ExpiresAt
	if *c != want {
		t.Errorf("claims = %+v, want %+v", *c, want)
	}
}

// signWith mints a token with arbitrary claims and method, to feed
// VerifyJoinToken what a forger or a misconfigured minter would.
func signWith(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyJoinTokenRefusals(t *testing.T) {
	now := time.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{
			"access_key": "ak-123", "room_id": "r", "user_id": "u", "role": "host",
			"type": "app", "version": 2, "jti": "id-1",
			"iat": now.Add(-10 * time.Second).Unix(), "nbf": now.Add(-10 * time.Second).Unix(), "exp": now.Add(time.Hour).Unix(),
		}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	key := []byte(appSecret)
	valid, _, err := hms.JoinToken(hms.Credentials{AccessKey: "ak-123", Secret: appSecret}, hms.JoinParams{RoomID: "r", UserID: "u", Role: hms.RoleHost})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	sig := []byte(parts[2])
	sig[3] ^= 1
	unsigned := signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good())

	tests := []struct {
		name, token string
	}{
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(sig)},
		{"tampered claims", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"room_id":"other"}`)) + "." + parts[2]},
		{"wrong key", signWith(t, jwt.SigningMethodHS256, []byte("another-appSecret"), good())},
		{"alg none", unsigned},
		{"alg none, signature stripped", strings.TrimSuffix(unsigned, ".") + "."},
		{"HS512", signWith(t, jwt.SigningMethodHS512, key, good())},
		{"HS384", signWith(t, jwt.SigningMethodHS384, key, good())},
		{"expired", signWith(t, jwt.SigningMethodHS256, key, with("exp", now.Add(-time.Minute).Unix()))},
		{"no exp", signWith(t, jwt.SigningMethodHS256, key, with("exp", nil))},
		{"not yet valid", signWith(t, jwt.SigningMethodHS256, key, with("nbf", now.Add(time.Hour).Unix()))},
		{"management type", signWith(t, jwt.SigningMethodHS256, key, with("type", "management"))},
		{"no type", signWith(t, jwt.SigningMethodHS256, key, with("type", nil))},
		{"version 1", signWith(t, jwt.SigningMethodHS256, key, with("version", 1))},
		{"version as string", signWith(t, jwt.SigningMethodHS256, key, with("version", "2"))},
		{"no room", signWith(t, jwt.SigningMethodHS256, key, with("room_id", nil))},
		{"no jti", signWith(t, jwt.SigningMethodHS256, key, with("jti", nil))},
		{"garbage", "not.a.token"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyJoinToken(appSecret, tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("VerifyJoinToken = %+v, %v; want ErrInvalidToken", c, err)
			}
			if tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q echoes the token", err)
			}
		})
	}
	if _, err := VerifyJoinToken(appSecret, signWith(t, jwt.SigningMethodHS256, key, good())); err != nil {
		t.Errorf("control token refused: %v", err)
	}
	if _, err := VerifyJoinToken("", valid); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("empty appSecret: %v", err)
	}
}
