//go:build race

package promexport

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, on purpose, so pooling cannot be measured.
const raceEnabled = true
