import { DefaultFailureConverter } from '@temporalio/common';

/**
 * The failure converter of every client, worker and the workflow sandbox (loaded by path: the SDK
 * requires it in clients and workers, and the workflow bundle includes it). A failure's message and
 * stack trace travel as one encoded payload instead of in clear, so the payload codec encrypts them
 * like any other value: a model service's error may quote the prompt, and a stack trace names the
 * code. The failure's type and retry flag stay readable (Web UI, `temporal workflow show`); the
 * message shows as "Encoded failure" to a reader without the codec. Decoding reads both forms, so
 * histories written before this replay and display as before.
 *
 * Sandbox-safe: imports only @temporalio/common.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
