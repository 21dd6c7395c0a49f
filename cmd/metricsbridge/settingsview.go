package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/metricsbridge/metricsbridge/internal/env"
)

// settingGroup is a titled list of effective settings, as check prints
// them and as serve -h and check -h print the defaults.
type settingGroup struct {
	title string
	items []setting
}

type setting struct{ name, value string }

// settingGroups lists every setting of s in check's order; lookup gives
// the raw values of the file and path variables. Each package's Config
// prints its own settings; this only groups them.
func settingGroups(s settings, lookup env.Lookup) []settingGroup {
	metrics := settingGroup{title: "metrics", items: fromLines(metricsSettings(s.metrics))}
	tokens := settingGroup{title: "scrape tokens", items: append(
		[]setting{{envAuthRequired, strconv.FormatBool(s.authRequired)}},
		fromLines(authSettings(s.auth, lookup))...)}
	otlp := settingGroup{title: "OTLP push", items: fromLines(otlpSettings(s.otlp, lookup))}

	server := settingGroup{title: "server and proxy (each also a flag)", items: s.server.settings(lookup)}
	return []settingGroup{metrics, tokens, otlp, server}
}

// fromLines turns the NAME=value lines of Config.Settings methods into
// settings, in order.
func fromLines(groups ...[]string) []setting {
	var out []setting
	for _, lines := range groups {
		for _, line := range lines {
			name, value, _ := strings.Cut(line, "=")
			out = append(out, setting{name, value})
		}
	}
	return out
}

// printSettings writes one NAME=value line per setting, as check does.
func printSettings(w io.Writer, groups []settingGroup) {
	for _, g := range groups {
		for _, it := range g.items {
			fmt.Fprintf(w, "%s=%s\n", it.name, quoteValue(it.value))
		}
	}
}

// quoteValue returns v as it is when that is unambiguous on one line, and
// Go-quoted otherwise: a line break, a control or invisible character, a
// quote, a backslash or surrounding space would let a value (a custom
// label, a path) fake further lines or hide what it holds. A value printed
// as it is never starts with a double quote, so a reader can tell the two
// apart.
func quoteValue(v string) string {
	if v != strings.TrimSpace(v) || strings.ContainsAny(v, `"\`) {
		return strconv.Quote(v)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return strconv.Quote(v)
		}
	}
	return v
}

// printEnvironmentHelp lists the environment variables of serve and check
// with their defaults, grouped, from what check prints for an empty
// environment.
func printEnvironmentHelp(w io.Writer) {
	s, err := loadSettings(context.Background(), env.Map(nil))
	if err != nil {
		// The defaults are valid by construction; say so rather than
		// print half a list.
		fmt.Fprintf(w, "\n(cannot list the environment variables: %v)\n", err)
		return
	}
	fmt.Fprint(w, "\nenvironment variables, with their defaults (a flag above wins over its variable):\n")
	for _, g := range settingGroups(s, env.Map(nil)) {
		fmt.Fprintf(w, "\n  %s:\n", g.title)
		for _, it := range g.items {
			v := it.value
			if v == "" || v == "(unset)" {
				v = "(unset)"
			} else {
				v = quoteValue(v)
			}
			fmt.Fprintf(w, "    %-56s %s\n", it.name, v)
		}
	}
	fmt.Fprint(w, "\nEach OTEL_EXPORTER_OTLP_ variable above except the TEMPORALITY_PREFERENCE and\nDEFAULT_HISTOGRAM_AGGREGATION ones also has an OTEL_EXPORTER_OTLP_METRICS_ form,\nwhich wins; OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is the full URL, /v1/metrics\nincluded. The meaning of each is in README.md, \"Configuration\". Other names\nstarting with METRICS_, JWT_ or OTEL_EXPORTER_OTLP_ are warned about as unknown.\n")
}
