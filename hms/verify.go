package hms

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JoinClaims are the claims of a verified join token.
type JoinClaims struct {
	AccessKey, RoomID, UserID, Role string
	IssuedAt, NotBefore, ExpiresAt  time.Time
	ID                              string
}

// parsedClaims is what golang-jwt decodes into: jwt.RegisteredClaims
// brings iat, nbf, exp and jti (NumericDate accepts the fractional seconds
// other minters write) and implements jwt.Claims.
type parsedClaims struct {
	AccessKey string `json:"access_key"`
	RoomID    string `json:"room_id"`
	UserID    string `json:"user_id"`
	Role      string `json:"role"`
	Type      string `json:"type"`
	Version   int    `json:"version"`
	jwt.RegisteredClaims
}

// ParseJoinToken verifies a join token and returns its claims. It accepts
// only HS256 signed with secret, type "app", version 2, an exp in the
// future, an nbf in the past, and non-empty access_key, room_id, user_id,
// role and jti; every refusal wraps ErrInvalidToken.
func ParseJoinToken(secret, token string) (*JoinClaims, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, ErrMissingCredentials)
	}
	var pc parsedClaims
	_, err := jwt.ParseWithClaims(token, &pc, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, describeJWTError(err))
	}
	switch {
	case pc.Type != tokenTypeApp:
		return nil, fmt.Errorf("%w: type %q is not %q", ErrInvalidToken, truncate(pc.Type, 20), tokenTypeApp)
	case pc.Version != tokenVersion:
		return nil, fmt.Errorf("%w: version %d is not %d", ErrInvalidToken, pc.Version, tokenVersion)
	case pc.AccessKey == "" || pc.RoomID == "" || pc.UserID == "" || pc.Role == "" || pc.ID == "":
		return nil, fmt.Errorf("%w: access_key, room_id, user_id, role and jti are required", ErrInvalidToken)
	}
	jc := &JoinClaims{
		AccessKey: pc.AccessKey,
		RoomID:    pc.RoomID,
		UserID:    pc.UserID,
		Role:      pc.Role,
		ExpiresAt: pc.ExpiresAt.Time,
		ID:        pc.ID,
	}
	if pc.IssuedAt != nil {
		jc.IssuedAt = pc.IssuedAt.Time
	}
	if pc.NotBefore != nil {
		jc.NotBefore = pc.NotBefore.Time
	}
	return jc, nil
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
