// Package secret keeps per-environment secrets encrypted with age, and redacts their values
// from everything Strata writes.
package secret
