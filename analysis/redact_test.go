package analysis_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			require.NoError(t, err)
			require.Equal(t, strategy.Fail, v.Outcome)
			text := fmt.Sprintf("%+v", v)
			for n := 3; n <= len(secret); n++ {
				require.NotContains(t, text, " token="+secret[:n], "a %d-byte prefix of the secret leaked", n)
			}
			assert.Contains(t, v.Measurements[0].Error, "HTTP 500: xxx")
		})
	}
}

// Excerpt redacts the calling check's secrets, then cuts on a rune
// boundary.
func TestExcerpt(t *testing.T) {
	ctx := context.Background()
	assert.Equal(t, "short text", analysis.Excerpt(ctx, "short\n text", 200))
	assert.Equal(t, "ééé...", analysis.Excerpt(ctx, "éééé", 7))
	var got []string
	src := analysis.SourceFunc(func(ctx context.Context, q analysis.Query) (any, error) {
		got = append(got, analysis.Excerpt(ctx, "a "+secret+" b", 200), analysis.Excerpt(ctx, "a "+secret+" b", 6))
		return 1.0, nil
	})
	c := &analysis.Check{Label: "m", Source: src, Query: `x{t="{{args.token}}"}`,
		Args: []analysis.Arg{{Name: "token", Value: secret, Secret: true}}}
	_, err := c.Analyze(ctx, input())
	require.NoError(t, err)
	assert.Equal(t, []string{"a ***** b", "a ****..."}, got)
}
