package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/metricsbridge/metricsbridge/auth"
)

// A scrape credential as `metricsbridge token create --exp 0` makes it: no
// exp claim, so it never expires.
func ExampleMint() {
	tok, err := auth.Mint(auth.MintOptions{
		Username: "prometheus@monitoring",
		Secret:   []byte("0123456789abcdef0123456789abcdef"),
		Now:      func() time.Time { return time.Unix(1764000000, 0) },
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(tok)
	// Output:
	// eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3NjQwMDAwMDAsInN1YiI6InByb21ldGhldXNAbW9uaXRvcmluZyJ9.XCFUoL2E2A73QVxmT2xbggCs6jUTJTAtiZyRWj_fRmI
}

func ExampleVerifier_Middleware() {
	key := []byte("0123456789abcdef0123456789abcdef")
	v, err := auth.NewVerifier(auth.Config{Algorithm: "HS256", Secrets: [][]byte{key}, Leeway: auth.DefaultLeeway})
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
