package otlpenv

import (
	"errors"
	"testing"

	"github.com/metricsbridge/metricsbridge"
	"github.com/metricsbridge/metricsbridge/internal/env"
)

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://u:p@h/x?k=v&k=w":  "https://xxxxx@h/x?k=xxxxx",
		"http://h:4318/v1/metrics": "http://h:4318/v1/metrics",
		"%zz":                      "(unparsable URL, hidden)",
	} {
		if got := RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestResource(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		want    map[string]string
		wantErr string
	}{
		{"defaults", nil, map[string]string{"service.name": "metricsbridge", "service.version": "v9"}, ""},
		{"attributes, URL-decoded", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod, team=a%20b"},
			map[string]string{"deployment.environment": "prod", "team": "a b", "service.name": "metricsbridge"}, ""},
		{"service name wins", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=x", "OTEL_SERVICE_NAME": "y"},
			map[string]string{"service.name": "y"}, ""},
		{"not key=value", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "a=b,c"}, nil,
			`invalid OTEL_RESOURCE_ATTRIBUTES="a=b,c": item 2 is not key=value`},
		{"empty item", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "a=b,,c=d"}, nil,
			`invalid OTEL_RESOURCE_ATTRIBUTES="a=b,,c=d": item 2 of the comma-separated list is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Resource(env.Map(tc.vars), "v9")
			if tc.wantErr != "" {
				if !errors.Is(err, metricsbridge.ErrConfig) || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q matching metricsbridge.ErrConfig", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, kv := range res.Attributes() {
				got[string(kv.Key)] = kv.Value.Emit()
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}
