// Package analysistest provides fake metric sources for testing checks and
// the releases that use them: scripted values, errors, empty results and
// per-call functions. They are plain data with exported fields, safe for
// concurrent use, and keep a record of every query.
package analysistest
