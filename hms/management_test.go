package hms

import (
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestManagementTokenOneMintForManyGoroutines(t *testing.T) {
	c, err := NewClient("", testCreds)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wg sync.WaitGroup
	start := make(chan struct{})
	tokens := make([]string, n)
	for i := range n {
		wg.Go(func() {
			<-start
			tok, err := c.tokens.get()
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		})
	}
	close(start)
	wg.Wait()
	eq(t, "mints", c.tokens.mints, 1)
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatal("goroutines got different tokens")
		}
	}

	// 100 goroutines refused with the same token cause one new mint.
	refused := tokens[0]
	start = make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			c.tokens.invalidate(refused)
			if _, err := c.tokens.get(); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	eq(t, "mints after a shared refusal", c.tokens.mints, 2)
}

func TestManagementTokenRenewedBeforeExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, err := NewClient("", testCreds, WithManagementTTL(time.Hour), withClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	expOf := func(tok string) time.Time {
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
			t.Fatal(err)
		}
		exp, _ := claims.GetExpirationTime()
		return exp.Time
	}
	first, _ := c.tokens.get()
	eq(t, "exp", expOf(first).Unix(), now.Add(time.Hour).Unix())

	advance(44 * time.Minute) // 16 minutes left: still reused
	again, _ := c.tokens.get()
	eq(t, "reused", again, first)

	advance(2 * time.Minute) // 14 minutes left, under the 15-minute margin
	renewed, _ := c.tokens.get()
	if renewed == first {
		t.Fatal("token not renewed 14 minutes before expiry")
	}
	if !clock().Before(expOf(first)) {
		t.Error("renewal came after the old token expired")
	}
	eq(t, "new exp", expOf(renewed).Unix(), clock().Add(time.Hour).Unix())
	eq(t, "mints", c.tokens.mints, 2)
}

func TestRenewMargin(t *testing.T) {
	eq(t, "24h", renewMargin(24*time.Hour), time.Hour)
	eq(t, "1h", renewMargin(time.Hour), 15*time.Minute)
	eq(t, "1m", renewMargin(time.Minute), 15*time.Second)
}
