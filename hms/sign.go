package hms

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
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

// jwtHeaderSegment is base64url({"alg":"HS256","typ":"JWT"}). The header never
// changes, so it is encoded once rather than marshalled from a map per token
// as jwt.Token.SigningString does.
var jwtHeaderSegment = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// tokenClaims are the claims of both token kinds, in the order 100ms's SDK
// writes them. A struct rather than jwt.MapClaims: encoding/json caches a
// struct's encoder, while a map is sorted and reflected on every call.
type tokenClaims struct {
	AccessKey string `json:"access_key"`
	RoomID    string `json:"room_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	Role      string `json:"role,omitempty"`
	Type      string `json:"type"`
	Version   int    `json:"version"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	ExpiresAt int64  `json:"exp"`
	ID        string `json:"jti"`
}

// newTokenClaims fills the claims common to both kinds: a fresh jti and
// iat/nbf backdated by clockSkew.
func newTokenClaims(accessKey, typ string, now, exp time.Time) (tokenClaims, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return tokenClaims{}, fmt.Errorf("token id: %w", err)
	}
	issued := now.Add(-clockSkew).Unix()
	return tokenClaims{
		AccessKey: accessKey,
		Type:      typ,
		Version:   tokenVersion,
		IssuedAt:  issued,
		NotBefore: issued,
		ExpiresAt: exp.Unix(),
		ID:        id.String(),
	}, nil
}

// signHS256 returns the compact JWT of claims, signed with golang-jwt's HS256.
func signHS256(key []byte, claims *tokenClaims) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(len(jwtHeaderSegment) + 2 + enc.EncodedLen(len(payload)) + enc.EncodedLen(32))
	b.WriteString(jwtHeaderSegment)
	b.WriteByte('.')
	var seg [1024]byte
	if n := enc.EncodedLen(len(payload)); n <= len(seg) {
		enc.Encode(seg[:n], payload)
		b.Write(seg[:n])
	} else {
		b.WriteString(enc.EncodeToString(payload))
	}
	signingString := b.String()
	sig, err := jwt.SigningMethodHS256.Sign(signingString, key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	var sigSeg [64]byte
	n := enc.EncodedLen(len(sig))
	enc.Encode(sigSeg[:n], sig)
	b.WriteByte('.')
	b.Write(sigSeg[:n])
	return b.String(), nil
}
