package fake100ms

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every VerifyJoinToken refusal.
var ErrInvalidToken = errors.New("invalid 100ms join token")

// JoinClaims are the claims of a verified join token.
type JoinClaims struct {
	AccessKey, RoomID, UserID, Role string
	IssuedAt, NotBefore, ExpiresAt  time.Time
	ID                              string
}

// joinClaims is what golang-jwt decodes into: jwt.RegisteredClaims brings
// iat, nbf, exp and jti (NumericDate accepts the fractional seconds other
// minters write) and implements jwt.Claims.
type joinClaims struct {
	AccessKey string `json:"access_key"`
	RoomID    string `json:"room_id"`
	UserID    string `json:"user_id"`
	Role      string `json:"role"`
	Type      string `json:"type"`
	Version   int    `json:"version"`
	jwt.RegisteredClaims
}

// VerifyJoinToken checks a join token as 100ms does before a peer joins
// (docs/100ms.md, "Join tokens"): HS256 signed with the app
// secret, type "app", version 2, an exp in the future, an nbf in the past,
// and non-empty access_key, room_id, user_id, role and jti. It lives with
// the fake because only 100ms verifies these tokens: the backend mints
// them (hms.JoinToken) and tests read them back here. Every refusal wraps
// ErrInvalidToken and names no part of the token.
func VerifyJoinToken(secret, token string) (*JoinClaims, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: no app secret to verify with", ErrInvalidToken)
	}
	var c joinClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, describeJWTError(err))
	}
	switch {
	case c.Type != "app":
		return nil, fmt.Errorf("%w: type is not \"app\"", ErrInvalidToken)
	case c.Version != 2:
		return nil, fmt.Errorf("%w: version %d is not 2", ErrInvalidToken, c.Version)
	case c.AccessKey == "" || c.RoomID == "" || c.UserID == "" || c.Role == "" || c.ID == "":
		return nil, fmt.Errorf("%w: access_key, room_id, user_id, role and jti are required", ErrInvalidToken)
	}
	out := &JoinClaims{
		AccessKey: c.AccessKey, RoomID: c.RoomID, UserID: c.UserID, Role: c.Role,
		ExpiresAt: c.ExpiresAt.Time, ID: c.ID,
	}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time
	}
	if c.NotBefore != nil {
		out.NotBefore = c.NotBefore.Time
	}
	return out, nil
}

// describeJWTError names the reason without echoing any part of the token.
func describeJWTError(err error) string {
	for _, e := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "unverifiable"
}
