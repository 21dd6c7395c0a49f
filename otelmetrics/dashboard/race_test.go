//go:build race

package dashboard_test

// raceEnabled: the race detector slows the SDK tenfold, so the memory
// test fills a tenth of the ring (the bytes an entry are the same).
const raceEnabled = true
