package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
)

// A scrape credential as `metricsbridge token create --exp 0` makes it: no
// exp claim, so it never expires; sub, iat and a random jti, as the
// Python gateway's tokens carry.
func ExampleMint() {
	key := []byte("0123456789abcdef0123456789abcdef")
	issued := time.Unix(1764000000, 0)
	tok, err := auth.Mint(auth.MintOptions{
		Username: "prometheus@monitoring",
		Secret:   key,
		Now:      func() time.Time { return issued },
	})
	if err != nil {
		panic(err)
	}
	v, err := auth.NewVerifier(auth.Config{Algorithm: "HS256", Secrets: [][]byte{key}}, auth.WithClock(func() time.Time { return issued }))
	if err != nil {
		panic(err)
	}
	claims, err := v.Verify("Bearer " + tok)
	if err != nil {
		panic(err)
	}
	jti, _ := claims["jti"].(string)
	_, hasExp := claims["exp"]
	fmt.Println(claims["sub"], int64(claims["iat"].(float64)), len(jti), hasExp)
	// Output:
	// prometheus@monitoring 1764000000 22 false
}

func ExampleVerifier_Middleware() {
	key := []byte("0123456789abcdef0123456789abcdef")
	v, err := auth.NewVerifier(auth.Config{Algorithm: "HS256", Secrets: [][]byte{key}, Leeway: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	metrics := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "# metrics")
	}))
	tok, _ := auth.Mint(auth.MintOptions{Username: "prometheus@monitoring", Secret: key})

	for _, h := range []string{"", "Bearer " + tok} {
		req := httptest.NewRequest("GET", "/metrics/prometheus", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		rec := httptest.NewRecorder()
		metrics.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("WWW-Authenticate"), " ", rec.Body.String())
	}
	// Output:
	// 401 Bearer realm="metrics" {"error":"unauthorized","reason":"missing","message":"no bearer token"}
	// 200  # metrics
}
