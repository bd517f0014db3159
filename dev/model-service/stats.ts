import type { RequestHandler, Response } from 'express';

/** Counters of the inference endpoints, exposed at `GET /_stats`. */
export interface ServiceStats {
  /** Inference requests received (valid or not, faulted or not). */
  requests_total: number;
  /** Answers sent, by HTTP status; a stream counts once it ended normally. */
  by_status: Record<string, number>;
  /** Prompt tokens of the requests that got a slot. */
  prompt_tokens_total: number;
  /** Tokens generated, including those of generations cut short. */
  completion_tokens_total: number;
  /** Requests being served now: spiking, hanging, queued for a slot or generating. */
  in_flight: number;
  /** Requests whose client went away before the answer was complete. */
  aborted: number;
  /** Connections destroyed on purpose (drop faults). */
  dropped: number;
}

/** Zeroed counters. */
export function createStats(): ServiceStats {
  return {
    requests_total: 0,
    by_status: {},
    prompt_tokens_total: 0,
    completion_tokens_total: 0,
    in_flight: 0,
    aborted: 0,
    dropped: 0,
  };
}

const TRACKED = 'modelServiceTracked';

/** Counts the request in `requests_total` and marks it so its answer is counted in `by_status`. */
export function trackRequests(stats: ServiceStats): RequestHandler {
  return (_req, res, next) => {
    stats.requests_total++;
    res.locals[TRACKED] = true;
    next();
  };
}

/**
 * Counts an answer by status, for tracked requests only. Called right before the answer is written,
 * so a client that reads `/_stats` after getting its answer always sees it counted.
 */
export function countAnswer(stats: ServiceStats, res: Response, status: number): void {
  if (res.locals[TRACKED] !== true) return;
  stats.by_status[status] = (stats.by_status[status] ?? 0) + 1;
}
