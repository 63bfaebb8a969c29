package hms_test

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/telemed/videocalls/hms"
)

func ExampleJoinToken() {
	creds := hms.Credentials{AccessKey: "access-key", Secret: "app-secret"}
	now := time.Now()
	token, exp, err := hms.JoinToken(creds, hms.JoinParams{
		RoomID:   "6564a0a5a2ad2e4f1e0d0001",
		UserID:   "firebase-uid",
		Role:     hms.RoleGuest,
		NotAfter: now.Add(90 * time.Minute), // e.g. the appointment's end + JOIN_LATE
		Now:      now,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// 100ms checks the signature with the same secret; here, golang-jwt.
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(creds.Secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	claimedExp, _ := claims.GetExpirationTime()
	fmt.Println(claims["role"], claims["user_id"], exp.Equal(claimedExp.Time), exp.Sub(now) <= 90*time.Minute)
	fmt.Println(creds) // the secret is never printed
	// Output:
	// guest firebase-uid true true
	// hms.Credentials{AccessKey:"access-key", Secret:<redacted>}
}

func ExampleWebhookSecrets_Match() {
	// During a rotation both the old and the new secret are accepted.
	secrets := hms.ParseWebhookSecrets(" old-secret , new-secret ,")
	fmt.Println(secrets.Match("new-secret"), secrets.Match("old-secret"), secrets.Match(""), secrets.Match("other"))
	// Output: true true false false
}
