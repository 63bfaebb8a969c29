package hms

import (
	"fmt"
	"time"
)

// Lifetimes of a join token.
const (
	// DefaultJoinTTL is the lifetime of a join token when JoinParams.TTL is 0.
	DefaultJoinTTL = 4 * time.Hour
	// MaxJoinTTL caps JoinParams.TTL: a longer TTL is silently shortened to it.
	MaxJoinTTL = 24 * time.Hour
)

// JoinParams says who joins which room, as what, and for how long.
type JoinParams struct {
	RoomID, UserID string
	Role           Role
	// TTL is the token's lifetime from Now: 0 means DefaultJoinTTL, more
	// than MaxJoinTTL is capped to MaxJoinTTL, negative is an error.
	TTL time.Duration
	// NotAfter, when set, bounds exp: the token never outlives it.
	NotAfter time.Time
	// Now is the minting time, for tests; zero means time.Now().
	Now time.Time
}

// JoinToken mints a 100ms auth token (HS256, type "app", version 2, a fresh
// jti, iat/nbf backdated 10 s) that lets UserID join RoomID as Role. It
// returns the token and its exp. It refuses (ErrInvalidArgument) an empty
// room or user, a zero Role, a negative TTL, and a NotAfter that leaves no
// lifetime; and ErrMissingCredentials for empty credentials.
func JoinToken(c Credentials, p JoinParams) (token string, expiresAt time.Time, err error) {
	if err := c.check(); err != nil {
		return "", time.Time{}, fmt.Errorf("join token: %w", err)
	}
	switch {
	case p.RoomID == "":
		return "", time.Time{}, fmt.Errorf("join token: %w: empty room id", ErrInvalidArgument)
	case p.UserID == "":
		return "", time.Time{}, fmt.Errorf("join token: %w: empty user id", ErrInvalidArgument)
	case !p.Role.Valid():
		return "", time.Time{}, fmt.Errorf("join token: %w: role must be host or guest", ErrInvalidArgument)
	case p.TTL < 0:
		return "", time.Time{}, fmt.Errorf("join token: %w: negative TTL %s", ErrInvalidArgument, p.TTL)
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	ttl := p.TTL
	switch {
	case ttl == 0:
		ttl = DefaultJoinTTL
	case ttl > MaxJoinTTL:
		ttl = MaxJoinTTL
	}
	exp := now.Add(ttl)
	if !p.NotAfter.IsZero() && p.NotAfter.Before(exp) {
		exp = p.NotAfter
	}
	// exp is whole seconds; truncating keeps it at or before NotAfter.
	exp = time.Unix(exp.Unix(), 0).UTC()
	if !exp.After(now) {
		return "", time.Time{}, fmt.Errorf("join token: %w: NotAfter %s leaves no lifetime", ErrInvalidArgument, p.NotAfter.UTC().Format(time.RFC3339))
	}
	claims, err := newTokenClaims(c.AccessKey, tokenTypeApp, now, exp)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("join token: %w", err)
	}
	claims.RoomID, claims.UserID, claims.Role = p.RoomID, p.UserID, p.Role.name
	token, err = signHS256([]byte(c.Secret), &claims)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("join token: %w", err)
	}
	return token, exp, nil
}
