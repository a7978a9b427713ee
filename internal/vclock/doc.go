// Package vclock lets glidepath's judges run on a simulated clock: a
// context may carry a [Clock], and the judges read the time and wait for
// their next reading through it. Without one they use the real clock. The
// detection benchmark (internal/sim) drives the judges' production
// Analyze path through thousands of simulated releases this way, without
// sleeping.
package vclock
