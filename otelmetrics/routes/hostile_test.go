package routes

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ceiling runs f and fails when it takes longer than d or allocates more
// than maxBytes. Both are far above the normal cost: they catch costs
// that grow out of proportion to the input, not slowness.
func ceiling(t *testing.T, d time.Duration, maxBytes uint64, f func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if elapsed > d {
		t.Errorf("took %s, ceiling %s", elapsed, d)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > maxBytes {
		t.Errorf("allocated %d MiB, ceiling %d MiB", a>>20, maxBytes>>20)
	}
}

func mustLoad(t *testing.T, doc string) *Table {
	t.Helper()
	table, err := FromOpenAPI(context.Background(), []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// pathsDoc is an OpenAPI document whose paths each have a get.
func pathsDoc(paths ...string) string {
	var b strings.Builder
	b.WriteString(`{"openapi": "3.0.3", "paths": {`)
	for i, p := range paths {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q: {\"get\": {}}", p)
	}
	b.WriteString("}}")
	return b.String()
}

// Several parameters in one segment once made the matcher try every
// split: /reports/ and 2,000 dashes cost 14 s of CPU, 4,000 dashes 73 s;
// two parameters were quadratic. The work is now linear in the path.
func TestHostileMatchBacktracking(t *testing.T) {
	table := mustLoad(t, pathsDoc("/reports/{year}-{month}-{day}.csv", "/range/{from}-{to}.json", "/a/{b}"))
	work := func(path string) int {
		var w int
		if got := table.tree.match(httptest.NewRequest("GET", path, nil), &w); got != "" {
			t.Fatalf("%s… matched %q", path[:20], got)
		}
		return w
	}
	for _, prefix := range []string{"/reports/", "/range/"} {
		t.Run(strings.Trim(prefix, "/"), func(t *testing.T) {
			ceiling(t, 5*time.Second, 64<<20, func() {
				short := work(prefix + strings.Repeat("-", 4000))
				long := work(prefix + strings.Repeat("-", 64000))
				if ratio := float64(long) / float64(short); ratio > 16.5 {
					t.Errorf("16 times the path, %.1f times the work", ratio)
				}
			})
		})
	}
	if got := table.Match(httptest.NewRequest("GET", "/reports/2026-11-28.csv", nil)); got != "/reports/{year}-{month}-{day}.csv" {
		t.Errorf("a report is labelled %q", got)
	}
}

// The same matching ran in the conflict check at load: a 1.6 kB document
// took 3 s.
func TestHostileLoadBacktracking(t *testing.T) {
	doc := pathsDoc("/r/{a}-{b}-{c}-{d}-{e}.csv", "/r/"+strings.Repeat("-", 1500)+"x")
	ceiling(t, 5*time.Second, 64<<20, func() {
		if c := mustLoad(t, doc).Conflicts(); c.Count != 0 {
			t.Errorf("conflicts %v", c)
		}
	})
}

// Server variables whose defaults name each other once expanded until
// the process ran out of memory. They are substituted once, and a URL that
// expands beyond maxServerURLBytes refuses the document.
func TestHostileServerVariables(t *testing.T) {
	var vars []string
	for i := range 40 {
		vars = append(vars, fmt.Sprintf(`"v%d": {"default": "{v%d}x{v%d}"}`, i, i+1, i+1))
	}
	doc := `{"openapi": "3.0.3", "servers": [{"url": "https://h/{v0}/api", "variables": {` + strings.Join(vars, ",") + `}}],
		"paths": {"/a": {"get": {}}}}`
	ceiling(t, 5*time.Second, 64<<20, func() {
		table := mustLoad(t, doc)
		if got := table.Match(httptest.NewRequest("GET", "/v1x{v1}/api/a", nil)); got != "/{v1}x{v1}/api/a" {
			t.Errorf("label %q; notes %q", got, table.Notes())
		}
	})
	wide := `{"openapi": "3.0.3", "servers": [{"url": "/` + strings.Repeat("{a}", 100) + `", "variables": {"a": {"default": "` + strings.Repeat("x", 100) + `"}}}],
		"paths": {"/a": {"get": {}}}}`
	_, err := FromOpenAPI(context.Background(), []byte(wide))
	if !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), "expands to more than 2048 bytes") {
		t.Errorf("err %v", err)
	}
}

// A 1.2 MB document once yielded 360,000 overlapping pairs, kept for the
// life of the process (2.2 GB resident); the report keeps their count and
// the first few.
func TestHostileConflictCount(t *testing.T) {
	var paths []string
	for i := range 600 {
		paths = append(paths, fmt.Sprintf("/p%d/{x}", i), fmt.Sprintf("/{y}/q%d", i))
	}
	doc := pathsDoc(paths...)
	ceiling(t, 10*time.Second, 128<<20, func() {
		c := mustLoad(t, doc).Conflicts()
		if c.Count != 360_000 || len(c.First) != maxReportedConflicts || c.Incomplete {
			t.Errorf("count %d, %d kept, incomplete %t", c.Count, len(c.First), c.Incomplete)
		}
	})
	// Past the comparison budget the count is a lower bound.
	paths = paths[:0]
	for i := range 1520 {
		paths = append(paths, fmt.Sprintf("/p%d/{x}", i), fmt.Sprintf("/{y}/q%d", i))
	}
	doc = pathsDoc(paths...)
	ceiling(t, 30*time.Second, 128<<20, func() {
		c := mustLoad(t, doc).Conflicts()
		if c.Count < 1_000_000 || len(c.First) != maxReportedConflicts || !c.Incomplete {
			t.Errorf("count %d, %d kept, incomplete %t", c.Count, len(c.First), c.Incomplete)
		}
	})
}

// Each $ref once copied its whole target: 888 kB took 13 s to load. A
// reference is now resolved once, however many paths share it, and a
// YAML mapping with a number for a key is converted once.
func TestHostileRefs(t *testing.T) {
	var json, yaml strings.Builder
	json.WriteString(`{"openapi": "3.0.3", "components": {"pathItems": {"big": {"get": {}`)
	yaml.WriteString("openapi: 3.0.3\ncomponents:\n  pathItems:\n    big:\n      get: {}\n")
	for i := range 20000 {
		fmt.Fprintf(&json, `, "x-%d": 1`, i)
		fmt.Fprintf(&yaml, "      %d: 1\n", i)
	}
	json.WriteString(`}}}, "paths": {`)
	yaml.WriteString("paths:\n")
	for i := range 5000 {
		if i > 0 {
			json.WriteString(",")
		}
		fmt.Fprintf(&json, `"/p%d": {"$ref": "#/components/pathItems/big"}`, i)
		fmt.Fprintf(&yaml, "  /p%d: {$ref: '#/components/pathItems/big'}\n", i)
	}
	json.WriteString("}}")
	for name, doc := range map[string]string{"json": json.String(), "yaml": yaml.String()} {
		t.Run(name, func(t *testing.T) {
			// The old loader took minutes here; the race detector and a
			// busy machine make the normal 0.2-3 s up to ten times more.
			ceiling(t, 30*time.Second, 256<<20, func() {
				if n := mustLoad(t, doc).Len(); n != 5000 {
					t.Errorf("%d templates", n)
				}
			})
		})
	}
}

// A cancelled context stops a load.
func TestLoadCancelled(t *testing.T) {
	_, doc, _, _ := largeAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FromOpenAPI(ctx, doc); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrDocument) {
		t.Errorf("err %v", err)
	}
}

// A document whose templates would be many times its own size is refused
// with the reason.
func TestHostileTemplateVolume(t *testing.T) {
	long := strings.Repeat("/a", 1000)
	var paths []string
	for i := range 600 {
		paths = append(paths, fmt.Sprintf("%s/%d", long, i))
	}
	_, err := FromOpenAPI(context.Background(), []byte(pathsDoc(paths...)))
	if !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), "path segments in all") {
		t.Errorf("err %v", err)
	}
	prefix := `{"openapi": "3.0.3", "servers": [{"url": "/` + strings.Repeat("p", 2000) + `"}], "paths": {`
	var b strings.Builder
	b.WriteString(prefix)
	for i := range 2000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"/%d": {"$ref": "x.yaml"}`, i)
	}
	b.WriteString("}}")
	_, err = FromOpenAPI(context.Background(), []byte(b.String()))
	if !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), "four times the document's size") {
		t.Errorf("err %v", err)
	}
}

// An anchor that holds an alias to itself once made the YAML conversion
// recurse until the stack ran out, a fatal error no recover catches: the
// alias budget was counted in document bytes, so a few MB of comment let
// the recursion go deep enough (at 1 MB the document was refused, after
// 4 s). A cycle is now refused at once, and the budget is counted in the
// document's nodes, which comments do not add to.
func TestHostileSelfAlias(t *testing.T) {
	comment := strings.Repeat("# "+strings.Repeat("c", 78)+"\n", 4<<20/80)
	for _, tc := range []struct{ name, doc, want string }{
		{"sequence", "a: &x [*x]\n", "anchor 'x' value contains itself"},
		{"mapping", "a: &x {b: *x}\n", "anchor 'x' value contains itself"},
		{"through another anchor", "a: &x [1, &y {b: [*x]}]\n", "anchor 'x' value contains itself"},
		{"merge key", "a: &x {<<: *x}\n", "anchor 'x' value contains itself"},
		{"bomb", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", "aliases expand to more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := tc.doc + comment + "openapi: 3.0.0\npaths: {/a: {get: {}}}\n"
			// Parsing the comment takes 0.2-1 s, the race detector and a
			// busy machine make it up to ten times more; the old
			// conversion never returned.
			ceiling(t, 30*time.Second, 256<<20, func() {
				_, err := FromOpenAPI(context.Background(), []byte(doc))
				if !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err %v, want %q", err, tc.want)
				}
			})
		})
	}
}

// Templates mixing text and parameters in one segment each cost a scan
// of the segment: 5,000 of them beside each other (/f/{a}xy{b}.vN) made
// one 64 KiB segment cost 328 million bytes read, 40-120 ms a request.
// A table whose matches could read each byte of the path more than
// maxMatchFactor times is now refused at load, so the work of a match is
// at most the path's length times that constant, however many templates
// there are. The same holds for literals and parameters forking at every
// segment.
func TestHostileMatchFactor(t *testing.T) {
	mixed := func(n int) string {
		var paths []string
		for i := range n {
			paths = append(paths, fmt.Sprintf("/f/{a}xy{b}.v%d", i))
		}
		return pathsDoc(paths...)
	}
	var forks []string
	for i := range 1 << 10 {
		var b strings.Builder
		for bit := range 10 {
			if i&(1<<bit) == 0 {
				fmt.Fprintf(&b, "/s%d", bit)
			} else {
				fmt.Fprintf(&b, "/{p%d}", bit)
			}
		}
		forks = append(forks, b.String())
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"5000 mixed", mixed(5000), "5000 templates mix text and parameters in one segment at the same place"},
		{"200 mixed", mixed(200), "200 templates mix text and parameters"},
		{"1024 forks", pathsDoc(forks...), "too many templates overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ceiling(t, 5*time.Second, 256<<20, func() {
				_, err := FromOpenAPI(context.Background(), []byte(tc.doc))
				if !errors.Is(err, ErrDocument) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "more than 256 times") {
					t.Errorf("err %v, want %q", err, tc.want)
				}
			})
		})
	}
	// Tables within the bound match a 64 KiB segment in work
	// proportional to it, the factor no larger for 100 templates than
	// maxMatchFactor.
	segment := strings.Repeat("x", 64<<10)
	for _, n := range []int{50, 100} {
		table := mustLoad(t, mixed(n))
		for _, target := range []string{"/f/" + segment, "/f/" + segment + "xy1.v7", "/f/" + segment + "/more"} {
			var work int
			table.tree.match(httptest.NewRequest("GET", target, nil), &work)
			if limit := maxMatchFactor * (len(target) + 1); work > limit || table.tree.factor > maxMatchFactor {
				t.Errorf("%d templates, factor %d: work %d for %d bytes, limit %d", n, table.tree.factor, work, len(target), limit)
			}
		}
		if got := table.Match(httptest.NewRequest("GET", "/f/"+segment+"xy1.v7", nil)); got != "/f/{a}xy{b}.v7" {
			t.Errorf("%d templates: labelled %q", n, got)
		}
	}
}
