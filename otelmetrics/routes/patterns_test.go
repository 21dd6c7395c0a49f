package routes

import (
	"errors"
	"strings"
	"testing"
)

func TestNewRefusesMistakes(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, want string
	}{
		{"lower-case method", "get /users", "HTTP methods are case-sensitive, so get matches no request; want GET"},
		{"mixed-case method", "Post /users", "want POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New([]string{tc.pattern})
			if !errors.Is(err, ErrPattern) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%q) = %v, want ErrPattern saying %q", tc.pattern, err, tc.want)
			}
		})
	}
	if _, err := New([]string{"GET /users", "/users/{id}"}); err != nil {
		t.Fatalf("valid patterns refused: %v", err)
	}
}
