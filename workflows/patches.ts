/**
 * Patch ids of every versioned change to workflow code (see docs/operations.md, "Changing workflow
 * code" and "Retiring workflow shapes"). A workflow that started before a change replays the old
 * branch; one that started after takes the new one. Ids are never reused or renamed; when no running
 * workflow can still take the old branch, the `patched()` call becomes `deprecatePatch()` and then
 * goes away.
 *
 * 2026-12-07: the first four deprecated (the inference workflow calls `deprecatePatch()` where it
 * called `patched()`); their old branches are gone, and with them the shapes `v1` and
 * `v2-cancel-safe-admit-and-deadline` (see {@link RETIRED_SHAPES}).
 */
export const Patch = {
  /**
   * 2026-11: admit runs outside cancellation, so a cancel at any moment (even before the first
   * workflow task) settles the reservation; the model call gets the request deadline
   * (`scheduleToCloseTimeout`) and a grace period after the per-attempt timeout so the attempt's
   * own timeout (with its partial output) is reported first; admit failures settle the request.
   */
  CancelSafeAdmitAndDeadline: 'cancel-safe-admit-and-deadline',
  /**
   * 2026-11: the result is recorded and the usage committed by one local activity
   * (`completeRequest`) instead of two: the output travels to the worker once, and the last
   * workflow task runs one local activity instead of two.
   */
  SingleCompletionStep: 'single-completion-step',
  /**
   * 2026-11: a request whose input says `admittedAtAccept` (the API wrote its row and reserved its
   * quota before the start) skips the admit local activity: its first workflow task only schedules
   * the model call, which is most of the time to first token left to take out. Such inputs take
   * the behaviour of every earlier patch without recording their markers.
   */
  AdmittedAtAccept: 'admitted-at-accept',
  /**
   * 2026-12: a request cancelled during its model call ends `cancelled` whatever way the call then
   * ended. A GPU worker that dies after the cancel was asked for never acknowledges it: the server
   * times the call out (heartbeat) without retrying it (the cancel was asked for), and the request
   * ended `failed` (`model_timeout`) though its client had cancelled it. Found by the chaos run.
   */
  CancelWinsOverCallFailure: 'cancel-wins-over-call-failure',
  /**
   * 2026-12-07: a request's history holds one patch marker, this one, recorded first, instead of the
   * four above (each with the core's `TemporalChangeVersion` search-attribute upsert), and no
   * `running` status upsert: 15 events for a completed API request instead of 16, 17 for a batch
   * item instead of 19. The status search attribute is set when the request ends.
   */
  LeanHistory: 'lean-history',
} as const;

/**
 * Released workflow shapes (folders of test/replay/histories) whose branch no longer exists, with the
 * release that removed it. A workflow of such a shape still running when that release is deployed
 * cannot continue; docs/operations.md says how to check there is none first.
 */
export const RETIRED_SHAPES: Readonly<Record<string, string>> = {
  /** Admit cancellable, no request deadline on the model call, result and usage in two steps. */
  v1: '2026-12-07: cancel-safe-admit-and-deadline deprecated',
  /** Result and usage recorded by two local activities (recordResult, commitUsage). */
  'v2-cancel-safe-admit-and-deadline': '2026-12-07: single-completion-step deprecated',
};
