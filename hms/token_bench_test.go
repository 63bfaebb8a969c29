package hms

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The goal: JoinToken within 1.25x of a bare golang-jwt HS256 sign of the
// same claims, although JoinToken also draws a random jti and checks its
// arguments.

func BenchmarkJoinToken(b *testing.B) {
	p := JoinParams{RoomID: "6564a0a5a2ad2e4f1e0d0001", UserID: "Xy7f2kQp9sLmN4vB8cD1eF3gH5j2", Role: RoleHost}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := JoinToken(testCreds, p); err != nil {
			b.Fatal(err)
		}
	}
}

// bareClaims are the join-token claims the way golang-jwt's documentation
// suggests declaring them: custom fields plus RegisteredClaims.
type bareClaims struct {
	AccessKey string `json:"access_key"`
	RoomID    string `json:"room_id"`
	UserID    string `json:"user_id"`
	Role      string `json:"role"`
	Type      string `json:"type"`
	Version   int    `json:"version"`
	jwt.RegisteredClaims
}

// BenchmarkBareJWTSign signs precomputed claims (jti and times included)
// with golang-jwt: StructClaims as its docs suggest, MapClaims as most
// 100ms examples do.
func BenchmarkBareJWTSign(b *testing.B) {
	now := time.Now()
	iat := jwt.NewNumericDate(now.Add(-clockSkew))
	exp := jwt.NewNumericDate(now.Add(DefaultJoinTTL))
	const jti = "0b6a3c1e-7d2f-4e51-9a0c-000000000001"
	key := []byte(testCreds.Secret)
	b.Run("StructClaims", func(b *testing.B) {
		claims := bareClaims{
			AccessKey: testCreds.AccessKey, RoomID: "6564a0a5a2ad2e4f1e0d0001", UserID: "Xy7f2kQp9sLmN4vB8cD1eF3gH5j2",
			Role: "host", Type: "app", Version: 2,
			RegisteredClaims: jwt.RegisteredClaims{IssuedAt: iat, NotBefore: iat, ExpiresAt: exp, ID: jti},
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MapClaims", func(b *testing.B) {
		claims := jwt.MapClaims{
			"access_key": testCreds.AccessKey, "room_id": "6564a0a5a2ad2e4f1e0d0001", "user_id": "Xy7f2kQp9sLmN4vB8cD1eF3gH5j2",
			"role": "host", "type": "app", "version": 2,
			"iat": iat.Unix(), "nbf": iat.Unix(), "exp": exp.Unix(), "jti": jti,
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
