// Package kubernetes releases plain Kubernetes Deployments with glidepath:
// [strategy.Target]s that turn a [strategy.State] into Deployments,
// Services and routes through the API server, and read readiness back.
//
// It lives in a module of its own (github.com/glidepath/glidepath/kubernetes)
// so that glidepath's core never pulls client-go. There is no controller and
// no custom resource: the program that runs the release drives the cluster
// directly, through the client it passes in.
//
// # Objects
//
// Every target manages the Deployments of one [Workload]: one Deployment per
// revision, named <Name>-<revision>, built from the caller's pod template
// plus the revision label, scaled to the State's replica count for that
// revision. Two targets add the traffic:
//
//   - [GatewayTarget]: one Service per revision and a Gateway API HTTPRoute
//     whose backendRefs weights follow the State's weight; a header route
//     is an extra rule with a header match that sends matching requests to
//     the canary. Weighted canaries, rolling releases, A/B routes.
//   - [ServiceTarget]: one Service whose selector switches between the
//     revisions: the instant switch (and switch-back) of blue-green. It has
//     no weighted routing: a State with a weight strictly between 0 and 100
//     selects both revisions, and requests spread over their ready
//     endpoints (a basic canary: the traffic split is the instance split).
//
// # Apply and Observe
//
// Apply writes with server-side apply under a field manager (default
// "glidepath"), so the target owns only the fields it sets and leaves the
// rest of each object to whoever else writes it (an HPA, a GitOps tool, a
// person). It writes in make-before-break order: new and larger Deployments
// and their Services first, then the traffic object, then it scales down or
// removes what the State no longer needs. Applying the same State twice
// changes nothing (no object's resourceVersion moves).
//
// Observe reads everything back from the API server, never from memory: the
// revisions and weights from the traffic object itself, replica counts from
// each Deployment's spec, readiness from its status. A Deployment whose
// current generation the Deployment controller has not yet observed reports
// no ready instances, and readiness counts only updated replicas that have
// been available for minReadySeconds (status.availableReplicas), so an
// Observation never calls capacity ready that Kubernetes does not.
//
// # Coexisting with other writers
//
// Each Apply forces the target's own fields (replicas, the route's rules, the
// Service's selector) back to the State with one write per object, taking
// ownership from another field manager that changed them since. It never
// re-applies on its own: between two Applies, another writer's change (an
// HPA scaling a Deployment, a person editing the route's weights) stays in
// place and Observe reports it, so the executor's readiness waits and the
// Status see the cluster as it is, and the next Apply restores the State.
// Nothing fights in a loop; nothing is silently lost. To let an HPA own the
// replica count, leave the release's replica counts to it and run a
// strategy without instance counts.
//
// # When things go wrong
//
//   - The API server is unreachable or restarting: Apply and Observe return
//     the client's error and the executor retries with backoff within its
//     retry budget. An Apply stops at its first failed write, so the
//     cluster may hold part of a State (the capacity written, not yet the
//     traffic: the write order keeps that safe); the retried Apply finishes
//     it, and a rollback starts from what Observe reports. Errors that
//     retrying cannot fix (invalid objects, forbidden) are permanent.
//   - Pods never become ready: the Deployment's ready count stays below the
//     State's, so the executor's readiness wait runs into
//     strategy.Options.ProgressDeadline and the release rolls back; since
//     capacity is waited for before traffic, the revision never receives
//     any. The Deployment's own progressDeadlineSeconds only sets its
//     Progressing condition; the target does not read it.
//   - Another writer changed the target's fields: see above.
//
// # Fencing
//
// Both targets implement [strategy.FencedTarget]. A fenced Apply records
// the lease's fencing token on the traffic object (annotation
// glidepath.dev/fence) and writes every object under a resourceVersion
// precondition after checking that token, so a driver that lost its lease
// gets [strategy.ErrFenced] instead of moving traffic after its successor.
package kubernetes
