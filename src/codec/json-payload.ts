import type { Payload } from '@temporalio/common';

/**
 * A payload in JSON: metadata values and data in base64. The codec server protocol carries payloads
 * this way, and the API's outbox of workflow starts stores them so.
 */
export interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

const b64 = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? []).toString('base64');

/** The payload a JSON payload stands for; absent fields (a client's request may omit them) are empty. */
export function payloadFromJson(p: {
  metadata?: Record<string, string> | null;
  data?: string | null;
}): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

export function payloadToJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
    data: b64(p.data),
  };
}
