// Package demo holds the scaffolding that glidepath's runnable examples
// share, so that each example's main.go shows only the glidepath calls: two
// in-process backends that play the stable and the canary revision, a
// bounded load generator, and a progress reporter that turns release
// events into lines a person can read.
//
// Everything listens on 127.0.0.1 and stops when asked; nothing here is
// part of glidepath's API.
package demo
