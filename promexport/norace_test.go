//go:build !race

package promexport

const raceEnabled = false
