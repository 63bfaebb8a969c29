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
	// ID is the token's jti; empty means a fresh UUID. A caller that
	// records the token before it hands it out (the audit trail) chooses
	// it, so that the record names the token without holding it.
	ID string
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
	exp, err := joinExpiry(p, now)
	if err != nil {
		return "", time.Time{}, err
	}
	claims, err := newTokenClaims(c.AccessKey, tokenTypeApp, p.ID, now, exp)
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

// JoinExpiry is the exp JoinToken gives a token of p (p.Now must be set):
// a caller can record it before the token exists.
func JoinExpiry(p JoinParams) (time.Time, error) {
	if p.Now.IsZero() {
		return time.Time{}, fmt.Errorf("join expiry: %w: Now is not set", ErrInvalidArgument)
	}
	if p.TTL < 0 {
		return time.Time{}, fmt.Errorf("join expiry: %w: negative TTL %s", ErrInvalidArgument, p.TTL)
	}
	return joinExpiry(p, p.Now)
}

func joinExpiry(p JoinParams, now time.Time) (time.Time, error) {
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
		return time.Time{}, fmt.Errorf("join token: %w: NotAfter %s leaves no lifetime", ErrInvalidArgument, p.NotAfter.UTC().Format(time.RFC3339))
	}
	return exp, nil
}
