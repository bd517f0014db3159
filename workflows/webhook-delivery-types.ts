/** Failure types a delivery does not retry. */
export const WebhookFailure = {
  /** The URL resolves to an address the policy refuses (checked again at delivery time). */
  UrlRefused: 'webhook_url_refused',
  /** The delivery or its endpoint (secret) no longer exists. */
  TargetGone: 'webhook_target_gone',
} as const;

/** Input of `webhookDeliveryWorkflow`; the retry policy travels with it, fixed at start. */
export interface WebhookDeliveryInput {
  /** Delivery id = workflow id = the `webhook-id` header. */
  deliveryId: string;
  /** Milliseconds before the first retry; doubles per attempt. */
  initialIntervalMs: number;
  /** Longest wait between attempts, milliseconds. */
  maximumIntervalMs: number;
  /** Seconds the delivery is retried before it is given up. */
  retryWindowS: number;
  /** Milliseconds one attempt may take. */
  attemptTimeoutMs: number;
}
