package analysis_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

// A body cut for an error message is redacted before it is cut, and a cut
// that leaves the start of a secret at the end hides that start too.
func TestSecretPrefixNotLeakedByCut(t *testing.T) {
	for pad := 180; pad <= 200; pad++ {
		t.Run(fmt.Sprint(pad), func(t *testing.T) {
			body := strings.Repeat("x", pad) + " token=" + secret + " rest of the body"
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			c := &analysis.Check{Label: "m", Source: &analysis.HTTP{}, Query: srv.URL + "/m?t={{args.token}}", ConsecutiveErrorLimit: new(0),
				Args: []analysis.Arg{{Name: "token", Value: secret, Secret: true}}}
			v, err := c.Analyze(context.Background(), input())
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Outcome != strategy.Fail {
				t.Fatalf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
			}
			text := fmt.Sprintf("%+v", v)
			for n := 3; n <= len(secret); n++ {
				if strings.Contains(text, " token="+secret[:n]) {
					t.Fatalf("a %d-byte prefix of the secret leaked: text = %q, want it not to contain %q", n, text, " token="+secret[:n])
				}
			}
			if got := v.Measurements[0].Error; !strings.Contains(got, "HTTP 500: xxx") {
				t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, "HTTP 500: xxx")
			}
		})
	}
}

// Excerpt redacts the calling check's secrets, then cuts on a rune
// boundary.
func TestExcerpt(t *testing.T) {
	ctx := context.Background()
	if got := analysis.Excerpt(ctx, "short\n text", 200); got != "short text" {
		t.Errorf(`analysis.Excerpt(ctx, "short\n text", 200) = %q, want %q`, got, "short text")
	}
	if got := analysis.Excerpt(ctx, "éééé", 7); got != "ééé..." {
		t.Errorf(`analysis.Excerpt(ctx, "éééé", 7) = %q, want %q`, got, "ééé...")
	}
	var got []string
	src := analysis.SourceFunc(func(ctx context.Context, q analysis.Query) (any, error) {
		got = append(got, analysis.Excerpt(ctx, "a "+secret+" b", 200), analysis.Excerpt(ctx, "a "+secret+" b", 6))
		return 1.0, nil
	})
	c := &analysis.Check{Label: "m", Source: src, Query: `x{t="{{args.token}}"}`,
		Args: []analysis.Arg{{Name: "token", Value: secret, Secret: true}}}
	_, err := c.Analyze(ctx, input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := []string{"a ***** b", "a ****..."}; !slices.Equal(got, want) {
		t.Errorf("got = %q, want %q", got, want)
	}
}
