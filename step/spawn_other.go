//go:build !linux

package step

// spawn is how Run starts a step: where there is no pipe2 (macOS, the BSDs), spawnPortable.
var spawn = spawnPortable
