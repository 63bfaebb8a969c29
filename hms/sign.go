package hms

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// clockSkew backdates iat and nbf, as 100ms's own server SDK does, so that a
// token is not "used before issued" on a 100ms server whose clock is behind.
const clockSkew = 10 * time.Second

// Token types and version, as 100ms expects them in the claims.
const (
	tokenTypeApp        = "app"
	tokenTypeManagement = "management"
	tokenVersion        = 2
)

// tokenClaims are the claims of both token kinds, as 100ms's server SDK
// writes them. A struct rather than jwt.MapClaims: encoding/json caches a
// struct's encoder, while a map is sorted and reflected on every call.
type tokenClaims struct {
	AccessKey string `json:"access_key"`
	RoomID    string `json:"room_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	Role      string `json:"role,omitempty"`
	Type      string `json:"type"`
	Version   int    `json:"version"`
	jwt.RegisteredClaims
}

// newTokenClaims fills the claims common to both kinds: the jti (id, or a
// fresh one when empty) and iat/nbf backdated by clockSkew.
func newTokenClaims(accessKey, typ, id string, now, exp time.Time) (tokenClaims, error) {
	if id == "" {
		u, err := uuid.NewRandom()
		if err != nil {
			return tokenClaims{}, fmt.Errorf("token id: %w", err)
		}
		id = u.String()
	}
	issued := jwt.NewNumericDate(now.Add(-clockSkew))
	return tokenClaims{
		AccessKey: accessKey,
		Type:      typ,
		Version:   tokenVersion,
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  issued,
			NotBefore: issued,
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        id,
		},
	}, nil
}

// signHS256 returns the compact JWT of claims, signed HS256 by golang-jwt.
func signHS256(key []byte, claims *tokenClaims) (string, error) {
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return token, nil
}
