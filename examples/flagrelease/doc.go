// Command flagrelease releases a feature flag written in flagd's format
// from 0% to 100% across three variants, gated by a statistical judge
// that reads the provider's OpenFeature tracking events:
//
//	go run ./examples/flagrelease          # the new variants are healthy: promoted to 100%
//	go run ./examples/flagrelease -bad     # variant "faster" fails 4x as often: rolled back to 0%
//
// The flag "checkout" lives in a flagd flag file served by a glidepath
// provider (and reloaded when the file changes). Its targeting rule sends
// staff to "faster" and everyone else through a fractional split that
// starts at 100% "legacy". A glidepath FractionalTarget moves the split's
// weights: 10%, then 50%, then 100% of users on the release "new", which
// is an even split between "fast" and "faster". Bucketing is flagd's own,
// so a user sees the variant flagd would serve for the same file.
//
// Simulated users evaluate the flag through the OpenFeature SDK and
// report a "request" and, when it failed, an "error" tracking event. The
// provider counts them per variant; a sequential judge compares the error
// rate of the release (fast + faster) with legacy's at every step and
// fails the release as soon as it is shown to be worse.
package main
