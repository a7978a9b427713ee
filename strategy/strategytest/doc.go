// Package strategytest provides test doubles for code built on package
// strategy, in the spirit of net/http/httptest and testing/fstest:
//
//   - [Target], an in-memory strategy.Target with an inspectable history of
//     every applied State, instances that take time to become ready, and
//     fault injection (fail the Nth call, fail for a while, fail for good,
//     hang until the context ends, never become ready);
//   - [Analyzer], a scripted analyzer that returns a sequence of verdicts
//     and errors;
//   - [CheckCapacityBeforeTraffic], which verifies from a history that traffic never
//     moved onto capacity that was not ready;
//   - [TestTarget], a conformance suite that authors of their own Targets
//     run from their tests, and [CheckStrategy], its counterpart for
//     authors of strategies.
//
// Use them inside testing/synctest bubbles so that readiness delays,
// pauses and analysis intervals pass in fake time.
package strategytest
