package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// Prefixes whose unknown names serve and check warn about: ours, and the
// OTLP exporter's, where a typo silently sends nothing. Other OTEL_* names
// belong to SDKs and tools sharing the environment.
var checkedPrefixes = []string{"METRICS_", "JWT_", "OTEL_EXPORTER_OTLP_"}

// recordLookups returns a Lookup that notes in read every name asked for.
// The names the settings loaders ask for are, by definition, the ones the
// program knows: no second list to keep in step.
func recordLookups(l env.Lookup, read map[string]bool) env.Lookup {
	var mu sync.Mutex
	return func(name string) (string, bool) {
		mu.Lock()
		read[name] = true
		mu.Unlock()
		return l(name)
	}
}

// knownNames returns the variables serve and check read: those the loaders
// asked for in this run (read), those they ask for in an empty environment
// (some are read only when another is unset), the flags' variables, and the
// OTLP exporter variables of the OpenTelemetry specification, which other
// programs sharing the environment may read for traces and logs.
func knownNames(read map[string]bool) map[string]bool {
	known := map[string]bool{}
	for n := range read {
		known[n] = true
	}
	_, _ = loadSettings(context.Background(), recordLookups(env.Map(nil), known))
	for _, o := range serveOptions {
		known[o.env] = true
	}
	for _, signal := range []string{"", "METRICS_", "TRACES_", "LOGS_"} {
		for _, v := range []string{"ENDPOINT", "HEADERS", "TIMEOUT", "PROTOCOL", "COMPRESSION", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "INSECURE"} {
			known["OTEL_EXPORTER_OTLP_"+signal+v] = true
		}
	}
	known["OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"] = true
	known["OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"] = true
	return known
}

// unknownVariables returns a warning for each variable of environ
// ("NAME=value", as os.Environ gives) with a checked prefix that no loader
// reads, naming the nearest known name when one is near.
func unknownVariables(environ []string, read map[string]bool) []string {
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(checkedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	known := knownNames(read)
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names) // ties go to the same name every time
	var warnings []string
	for _, name := range unknown {
		if known[name] {
			continue
		}
		w := fmt.Sprintf("%s is set but metricsbridge does not read it", name)
		if near := nearestName(name, names); near != "" {
			w += fmt.Sprintf("; did you mean %s?", near)
		}
		warnings = append(warnings, w)
	}
	slices.Sort(warnings)
	return warnings
}

// maxEnvNameLen bounds the edit-distance work per unknown name.
const maxEnvNameLen = 128

// nearestName returns the known name closest to name, or "" when none is
// close. A known name holding every word of name (METRICS_BUCKETS in
// METRICS_LATENCY_BUCKETS) counts as near as the words it adds; otherwise
// the edit distance decides, up to a third of the name's length.
func nearestName(name string, known []string) string {
	if len(name) > maxEnvNameLen {
		return ""
	}
	best, bestScore := "", len(name)/3+1
	words := strings.Split(name, "_")
	for _, k := range known {
		score := editDistance(name, k)
		if kw := strings.Split(k, "_"); len(kw) > len(words) && containsWords(kw, words) {
			score = min(score, len(kw)-len(words))
		}
		if score < bestScore {
			best, bestScore = k, score
		}
	}
	return best
}

// containsWords reports whether every word of sub appears in words, in
// order.
func containsWords(words, sub []string) bool {
	i := 0
	for _, w := range words {
		if i < len(sub) && w == sub[i] {
			i++
		}
	}
	return i == len(sub)
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (variable names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
