//go:build race

package realtime

// raceEnabled: the race detector is on, and sync.Pool drops some of what
// is put in it, so that allocation counts of pooled paths vary.
const raceEnabled = true
