package functions

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"firebase.google.com/go/v4/auth"
)

// heldRevocation is a sign-in check whose token verifies at once (as a
// signature checked locally does in production) and whose revocation check
// answers only when the test releases it, with err.
type heldRevocation struct {
	release chan struct{}
	err     error
}

func (v *heldRevocation) VerifyIDToken(context.Context, string) (*auth.Token, error) {
	return &auth.Token{UID: "uid-1"}, nil
}

func (v *heldRevocation) VerifyIDTokenAndCheckRevoked(ctx context.Context, _ string) (*auth.Token, error) {
	select {
	case <-v.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if v.err != nil {
		return nil, v.err
	}
	return &auth.Token{UID: "uid-1"}, nil
}

// TestSignInGatesAnswersAndWrites runs the production branch of
// authenticate, which the Auth emulator never takes: the handler starts
// (and may read) while the revocation check is still out, nothing it would
// write happens before the check holds, and a failed check decides the
// answer whatever the handler found. Await the check before the handler
// and the first case stalls; drop grant's wait for the check, or
// serveCallable's final one, and the others answer what the handler said.
func TestSignInGatesAnswersAndWrites(t *testing.T) {
	for _, tc := range []struct {
		name       string
		revokeErr  error
		handlerErr error
		wantCode   int
		wantWrite  bool
	}{
		{"check holds", nil, nil, http.StatusOK, true},
		{"check fails: no write, its answer", errors.New("auth unreachable"), nil, http.StatusServiceUnavailable, false},
		{"check fails, handler refused first: the check's answer", errors.New("auth unreachable"),
			fail(statusPermissionDenied, reasonNotParticipant, "no", nil), http.StatusServiceUnavailable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestApp(t, nil)
			if a.cfg.authEmulated {
				t.Fatal("the test environment names the Auth emulator: the branch under test would not run")
			}
			v := &heldRevocation{release: make(chan struct{}), err: tc.revokeErr}
			a.auth = v
			started := make(chan struct{})
			var wrote atomic.Bool
			h := a.callable("signinTest", "test", nil, func(ctx context.Context, rq *request, _ json.RawMessage) (any, error) {
				close(started) // the handler runs while the check is out
				if tc.handlerErr != nil {
					return nil, tc.handlerErr
				}
				if _, err := rq.grant(); err != nil {
					return nil, err
				}
				wrote.Store(true)
				return map[string]string{"uid": rq.uid}, nil
			})
			srv := httptest.NewServer(h)
			defer srv.Close()
			release := sync.OnceFunc(func() { close(v.release) })
			defer release() // before srv.Close, so that a failed test does not hang on its request
			req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"data":{}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer any")
			type answer struct {
				code int
				body string
			}
			done := make(chan answer, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					done <- answer{0, err.Error()}
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				done <- answer{resp.StatusCode, string(b)}
			}()
			select {
			case <-started:
			case <-time.After(30 * time.Second):
				t.Fatal("the handler did not start while the revocation check was out")
			}
			if wrote.Load() {
				t.Fatal("the handler wrote before the revocation check held")
			}
			release()
			got := <-done
			if got.code != tc.wantCode || wrote.Load() != tc.wantWrite {
				t.Errorf("answer %d %s, wrote %v; want %d, wrote %v", got.code, got.body, wrote.Load(), tc.wantCode, tc.wantWrite)
			}
		})
	}
}
