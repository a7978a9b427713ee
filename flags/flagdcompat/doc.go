// Package flagdcompat holds differential tests of glidepath's flagd
// evaluator against the libraries flagd itself uses: the JSON Logic
// library flagd evaluates targeting rules with
// (github.com/diegoholiveira/jsonlogic/v3, at the version flagd pins) and
// golang.org/x/mod/semver behind flagd's sem_ver. It is a module of its
// own so that glidepath's core module does not depend on them. It has no
// code, only tests.
package flagdcompat
