// Package rollback makes glidepath releases durable: every step is
// recorded before it is applied, a release whose process died is resumed
// (or rolled back) by another, two rollouts of one target never run at
// once, and every target keeps a history from which a bad release is
// undone with one call.
//
// # Manager
//
// [Manager] is the entry point. [Manager.Start] takes the target's lease,
// records the release as active in a [Store], and starts it with
// [strategy.Start] and a journal that appends each record (started, every
// intent before its Apply, applied, step, verdict, phase, finished) to the
// Store before the executor goes on. When the release ends its history
// [Entry] is written and the lease released, before the Rollout's Wait
// returns. [Manager.Resume] continues an unfinished release from its
// journal; [Manager.Undo] returns a target to its previous good revision;
// [Manager.History] lists finished releases; [Manager.Pending] shows an
// unfinished one and [Manager.Abandon] gives one up.
//
// # Stores and journals
//
// [MemStore] keeps everything in memory. [FileStore] keeps it in one
// directory: per target and lease (every Acquire starts a lease epoch) a
// lock file, a lease file and a target record (rewritten atomically:
// temporary file, fsync, rename, fsync of the directory), and per release
// an append-only journal, one file for each lease that wrote to it. Each
// journal record is a frame carrying its length, the length's complement
// and a CRC-32C of its JSON payload, written with one write call and
// fsynced before Append returns, so a record the executor acted on
// survives a crash.
//
// Damage is never ignored and never repaired into a different history.
// A journal whose final frame is incomplete (a process died while writing
// it) is reported with a [*CorruptError] matching [ErrTornRecord], naming
// the file and offset, and the record is treated as not written: the
// executor applies a State only after its intent record is complete and
// synced, so nothing was applied after a torn record. The next write cuts
// the torn bytes off. Any other damage (a flipped byte anywhere, a bad
// length, a record that does not decode, including in the final record)
// is a [*CorruptError] matching [ErrCorrupt]: reads report it, appends
// and resumes refuse to go on, and a person decides ([Manager.Abandon]).
//
// A journal or store write that fails (a full disk, a read-only
// directory) fails the executor's record, and the release stops before its
// next Apply ([strategy.ErrJournal], phase Stopped; during a rollback,
// Degraded). It stays active in the Store, to be resumed once the store
// is writable again.
//
// # Leases and fencing
//
// A target's lease is held by one owner until it expires; Start, Resume,
// Undo and Abandon acquire it, and a second rollout of the target is
// refused with a [*LeaseHeldError] (matching [ErrLeaseHeld]) naming the
// holder and the expiry. A running release renews its lease every
// LeaseTTL/3 from one goroutine, stopped when the release ends. Every
// acquisition issues a larger fencing token, and every journal append and
// fenced record update checks, under the store's lock, that the writer's
// token is the current one and has not expired: a process that lost its
// lease (it stalled past its TTL and another took the target over) cannot
// write, so its release stops before applying anything else. A renewal
// that finds the lease taken over stops the release at once (in the middle
// of a pause or an analysis, or while it is held for a Promote) with an
// error matching [strategy.ErrFenced] and [ErrLeaseLost]; it applies and
// records nothing more, and the new holder owns the release. A lease left
// by a dead process is taken over once it expires
// (ResumeOptions.WaitForLease waits for that). The FileStore serialises
// each read-check-write with flock(2), which the kernel releases when a
// process dies, even by SIGKILL. A process frozen while it holds that lock
// (SIGSTOP inside a renewal) does not hold the target: once its lease has
// expired, an Acquire waits FileOptions.TakeoverGrace (200 ms) for the lock
// and then starts the next lease epoch without it, so a takeover comes at
// most TTL + TakeoverGrace after the holder's last renewal. The frozen
// process, when it wakes, finds its epoch superseded: its writes fail
// with [ErrLeaseLost], and whatever bytes they leave lie beyond the seals
// the takeover recorded, so no reader ever sees them. Reads (History,
// Pending) take no lock at all.
//
// The journal of a managed release is a [strategy.Fencer]: [Journal.Fence]
// proves the lease by a fenced write and returns its token, which the
// executor checks before every Apply attempt and passes to a
// [strategy.FencedTarget]. A target that remembers the highest token it
// accepted refuses a stale holder outright. For a target that cannot, one
// window remains: a holder frozen between a successful Fence and the
// moment its Apply takes effect can still apply that one State after its
// successor took over (TestStaleHolderWindowWithoutFencing measures it);
// it cannot fence or journal again, so it applies nothing more. The window
// lasts one Apply in a running process and as long as the freeze in a
// frozen one.
//
// [storetest.TestStore] is the conformance suite every Store passes: the
// memory and file stores here, and the etcd store in the nested module
// github.com/glidepath/glidepath/rollback/etcdstore.
//
// # Resume
//
// [Replay] folds a journal into a [Progress]: the [strategy.Checkpoint]
// to resume from (the last recorded step, failures, the State last
// intended or applied, whether a rollback or a full promotion was under
// way), the phase, and the times a history entry needs. Resume checks
// that the rebuilt plan has the recorded fingerprint, then lets the
// executor observe the target and re-run the recorded step (Apply is
// idempotent), or roll back, as the caller chooses ([Continue],
// [RollBack]); a release that was rolling back (or degraded) always rolls
// back.
//
// Rolling back needs no plan. [Manager.Start] keeps the release's plan in
// the Store ([Active.Recorded]: its stable and final States, rollback
// delay and steps, without the analyzers). A resume that rolls back with
// the plan the release started with uses that plan (and so the
// strategy's own rollback path); one given a different plan, or none,
// rolls the target back to the recorded stable State along the
// executor's default path (capacity first, then traffic, then the canary
// removed), journaled and fenced like any rollback, with no strategy or
// analyzers. A resume that continues with a different plan is refused
// with a [*PlanChangedError] naming each step and field that differs
// ("step 0 (canary 40%): weight 40 → 50"). A release recorded by an
// earlier version keeps no plan: its error shows the two fingerprints,
// and rolling it back needs the plan it started with.
//
// # History and undo
//
// Each target keeps its last Manager.Keep releases: revisions, strategy,
// outcome, start and end, failure and rollback times, the verdicts that
// decided them, whether the release was an undo or resumed, and the
// commit time of the released revision when one was attached with
// [Manager.SetCommitTime]: what deployment frequency, lead time, change
// failure rate and time to restore are computed from (package dora reads
// the history as it is). An [Entry], like a [Progress], is a
// [strategy.Result] (the value the executor returns) with what the store
// knows besides; histories written by earlier versions of glidepath,
// whose entries spell the phase "outcome", still decode.
//
// [Manager.Undo] returns the target to the most recent earlier revision
// that was not rolled back. Within the rollback window (Manager.Window,
// after Argo Rollouts' rollbackWindow: the target revision is one of the
// Window most recent, the current one included) it is immediate: a
// two-step plan through the executor, capacity first and then traffic,
// with no steps or analysis replayed. Outside it the undo is planned by
// the caller's strategy like any release. A revision that was rolled back
// or undone is refused by Start unless [AllowRolledBack] is passed.
//
// # Failure policies
//
// [RollBackAtOnce] (the default), [PauseAndHold] (for releases carrying
// migrations) and [RollBackAfter] (Flagger's analysis threshold) build
// strategy.Policy values for strategy.Options.OnFail. The executor
// retries a rollback with backoff; one that still cannot be applied
// leaves the release Degraded, and the Manager keeps it active so that no
// other release starts on the target until it is resumed (rolled back) or
// abandoned.
//
// # Crash tests and soak
//
// The package's tests kill a child process (SIGKILL) at random points of
// a release against a file-backed target, resume in the parent, and check
// that every run ends promoted or rolled back, that the journal reads
// cleanly, and that every State the target received was the recorded
// intent at that position. The normal run does 200 kills, eight at a
// time (a few seconds; 40 with -short); for a soak, set GLIDEPATH_SOAK to
// the number of iterations (or pass -soak for 2000), and GLIDEPATH_SEED
// to replay a run whose seed a failure printed:
//
//	GLIDEPATH_SOAK=10000 go test -run TestCrashResume -v ./rollback/
//	go test -run TestCrashResume ./rollback/ -args -soak
package rollback
