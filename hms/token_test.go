package hms

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

var testCreds = Credentials{AccessKey: "ak-123", Secret: "s3cr3t-value-never-printed"}

func mustJoin(t *testing.T, p JoinParams) (string, time.Time) {
	t.Helper()
	tok, exp, err := JoinToken(testCreds, p)
	if err != nil {
		t.Fatalf("JoinToken: %v", err)
	}
	return tok, exp
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJoinTokenClaimsRoundTrip(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for _, role := range []Role{RoleHost, RoleGuest} {
		t.Run(role.String(), func(t *testing.T) {
			tok, exp := mustJoin(t, JoinParams{RoomID: "room-1", UserID: "uid-1", Role: role, Now: now})
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("token has %d parts", len(parts))
			}
			header := decodeSegment(t, parts[0])
			if header["alg"] != "HS256" || header["typ"] != "JWT" || len(header) != 2 {
				t.Errorf("header = %v", header)
			}
			raw := decodeSegment(t, parts[1])
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range raw {
					if !yield(k) {
						return
					}
				}
			})
			want := []string{"access_key", "exp", "iat", "jti", "nbf", "role", "room_id", "type", "user_id", "version"}
			if !slices.Equal(keys, want) {
				t.Errorf("claims = %v, want exactly %v", keys, want)
			}
			if raw["type"] != "app" || raw["version"] != float64(2) || raw["role"] != role.String() {
				t.Errorf("type/version/role = %v/%v/%v", raw["type"], raw["version"], raw["role"])
			}
			if _, err := uuid.Parse(raw["jti"].(string)); err != nil {
				t.Errorf("jti %v is not a UUID", raw["jti"])
			}

			// What 100ms checks first: the signature, HS256 with the secret.
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(testCreds.Secret), nil },
				jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt()); err != nil {
				t.Fatalf("not an HS256 token of the secret: %v", err)
			}
			unix := func(k string) int64 { return int64(raw[k].(float64)) }
			eq(t, "access_key", raw["access_key"], any("ak-123"))
			eq(t, "room_id", raw["room_id"], any("room-1"))
			eq(t, "user_id", raw["user_id"], any("uid-1"))
			eq(t, "iat backdated 10s", unix("iat"), now.Add(-10*time.Second).Unix())
			eq(t, "nbf = iat", unix("nbf"), unix("iat"))
			eq(t, "exp = now + default TTL", unix("exp"), now.Add(DefaultJoinTTL).Unix())
			eq(t, "returned exp", exp.Unix(), unix("exp"))
		})
	}
}

func TestJoinTokenFreshJTI(t *testing.T) {
	p := JoinParams{RoomID: "r", UserID: "u", Role: RoleGuest}
	a, _ := mustJoin(t, p)
	b, _ := mustJoin(t, p)
	ja := decodeSegment(t, strings.Split(a, ".")[1])["jti"]
	jb := decodeSegment(t, strings.Split(b, ".")[1])["jti"]
	if ja == jb {
		t.Errorf("two tokens share jti %s", ja)
	}
}

func TestJoinTokenExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		ttl      time.Duration
		notAfter time.Time
		want     time.Time
	}{
		{"default", 0, time.Time{}, now.Add(4 * time.Hour)},
		{"custom", 30 * time.Minute, time.Time{}, now.Add(30 * time.Minute)},
		{"capped at MaxJoinTTL", 72 * time.Hour, time.Time{}, now.Add(24 * time.Hour)},
		{"capped by NotAfter", 0, now.Add(time.Hour), now.Add(time.Hour)},
		{"NotAfter later than TTL", time.Hour, now.Add(3 * time.Hour), now.Add(time.Hour)},
		{"NotAfter and MaxJoinTTL", 72 * time.Hour, now.Add(30 * time.Hour), now.Add(24 * time.Hour)},
		{"NotAfter fraction rounds down", 0, now.Add(time.Hour + 900*time.Millisecond), now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, exp := mustJoin(t, JoinParams{RoomID: "r", UserID: "u", Role: RoleHost, TTL: tt.ttl, NotAfter: tt.notAfter, Now: now})
			if !exp.Equal(tt.want) {
				t.Errorf("exp = %v, want %v", exp, tt.want)
			}
			if !tt.notAfter.IsZero() && exp.After(tt.notAfter) {
				t.Errorf("exp %v after NotAfter %v", exp, tt.notAfter)
			}
		})
	}
}

func TestJoinTokenRefusals(t *testing.T) {
	now := time.Now()
	ok := JoinParams{RoomID: "r", UserID: "u", Role: RoleHost, Now: now}
	tests := []struct {
		name  string
		creds Credentials
		edit  func(*JoinParams)
		want  error
	}{
		{"zero role", testCreds, func(p *JoinParams) { p.Role = Role{} }, ErrInvalidArgument},
		{"empty room", testCreds, func(p *JoinParams) { p.RoomID = "" }, ErrInvalidArgument},
		{"empty user", testCreds, func(p *JoinParams) { p.UserID = "" }, ErrInvalidArgument},
		{"negative TTL", testCreds, func(p *JoinParams) { p.TTL = -time.Second }, ErrInvalidArgument},
		{"NotAfter passed", testCreds, func(p *JoinParams) { p.NotAfter = now.Add(-time.Minute) }, ErrInvalidArgument},
		{"NotAfter within the second", testCreds, func(p *JoinParams) { p.NotAfter = now }, ErrInvalidArgument},
		{"no secret", Credentials{AccessKey: "ak"}, func(*JoinParams) {}, ErrMissingCredentials},
		{"no access key", Credentials{Secret: "s"}, func(*JoinParams) {}, ErrMissingCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.edit(&p)
			tok, _, err := JoinToken(tt.creds, p)
			if !errors.Is(err, tt.want) || tok != "" {
				t.Errorf("JoinToken = %q, %v; want %v", tok, err, tt.want)
			}
		})
	}
}

func TestRole(t *testing.T) {
	eq(t, "host", RoleHost.String(), "host")
	eq(t, "guest", RoleGuest.String(), "guest")
	eq(t, "zero", Role{}.String(), "")
	eq(t, "zero valid", Role{}.Valid(), false)
	eq(t, "host valid", RoleHost.Valid(), true)
	eq(t, "distinct", RoleHost == RoleGuest, false)
}

func TestCredentialsNeverPrintSecret(t *testing.T) {
	c := testCreds
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%T"} {
		outputs = append(outputs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, []Credentials{c}))
	}
	outputs = append(outputs, fmt.Sprint(c), fmt.Sprintln(c), c.String(), c.GoString())
	js, err := json.Marshal(map[string]any{"creds": c})
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "creds", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "creds", c)
	outputs = append(outputs, buf.String())
	for _, out := range outputs {
		if strings.Contains(out, c.Secret) || strings.Contains(out, "s3cr3t") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if !strings.Contains(c.String(), "ak-123") {
		t.Errorf("String() = %q, want the access key", c.String())
	}
}
