package hms

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestWebhookSecrets(t *testing.T) {
	tests := []struct {
		config  string
		count   int
		match   []string
		noMatch []string
	}{
		{"s3cret", 1, []string{"s3cret"}, []string{"", "S3CRET", "s3cre", "s3cret ", " s3cret", "s3cret,"}},
		{"old-one, new-one", 2, []string{"old-one", "new-one"}, []string{"old-one, new-one", "old-onenew-one", "", " new-one"}},
		{" a ,, ,b,", 2, []string{"a", "b"}, []string{"", " ", ",", " a "}},
		{"", 0, nil, []string{"", " ", ","}},
		{" , ,, ", 0, nil, []string{"", " ", ",", " , ,, "}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.config), func(t *testing.T) {
			s := ParseWebhookSecrets(tt.config)
			eq(t, "Len", s.Len(), tt.count)
			for _, got := range tt.match {
				if !s.Match(got) {
					t.Errorf("Match(%q) = false", got)
				}
			}
			for _, got := range tt.noMatch {
				if s.Match(got) {
					t.Errorf("Match(%q) = true", got)
				}
			}
		})
	}
	var zero WebhookSecrets
	if zero.Match("") || zero.Match("x") {
		t.Error("zero WebhookSecrets matched")
	}
}

func TestWebhookSecretsNeverPrinted(t *testing.T) {
	s := ParseWebhookSecrets("alpha-secret,beta-secret")
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		if out := fmt.Sprintf(verb, s); strings.Contains(out, "alpha") || strings.Contains(out, "beta") {
			t.Errorf("%s printed %q", verb, out)
		}
	}
}

// matchReference is the obvious, non-constant-time definition of Match.
func matchReference(config, got string) bool {
	if got == "" {
		return false
	}
	return slices.ContainsFunc(strings.Split(config, ","), func(p string) bool {
		p = strings.TrimSpace(p)
		return p != "" && p == got
	})
}

func FuzzWebhookSecretsMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"s3cret", "s3cret"}, {"a,b", "b"}, {"a,b", "a,b"}, {"", ""}, {" , ", ""},
		{" x ", "x"}, {"x", " x"}, {"old,new", "new"}, {"\u00e9,\t\n", "\u00e9"}, {"a,,a", "a"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, config, got string) {
		s := ParseWebhookSecrets(config)
		if want := matchReference(config, got); s.Match(got) != want {
			t.Fatalf("ParseWebhookSecrets(%q).Match(%q) = %v, want %v", config, got, !want, want)
		}
		if s.Match("") {
			t.Fatal("empty presented secret matched")
		}
		// What is printed depends on how many secrets there are, nothing else.
		if out, same := fmt.Sprintf("%#v", s), ParseWebhookSecrets(strings.Repeat("x,", s.Len())).String(); out != same {
			t.Fatalf("printed %q, want %q", out, same)
		}
	})
}
