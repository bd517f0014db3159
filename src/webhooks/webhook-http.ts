import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { AddressPolicy } from './address-policy';
import { checkWebhookUrl, hostOf, WebhookUrlError } from './webhook-url';

/** Outcome of one POST: the status code, or the error that kept it from getting one. */
export type PostOutcome = { statusCode: number } | { error: string; refused: boolean };

/**
 * A DNS lookup that fails unless every address is allowed, so the connection goes to an address
 * checked at connect time (not one a rebinding DNS answered to an earlier check).
 */
function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.find((a) => !policy.allows(a.address));
      if (refused) {
        return callback(
          new WebhookUrlError(`${hostname} resolves to ${refused.address}, which is not allowed`),
          '',
          0,
        );
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** POSTs `body` to `url` with `headers`; never throws. Redirects are not followed. */
export async function postWebhook(
  rawUrl: string,
  body: string,
  headers: Record<string, string>,
  opts: { policy: AddressPolicy; timeoutMs: number },
): Promise<PostOutcome> {
  let url: URL;
  try {
    url = new URL(rawUrl);
    // Literal addresses are never looked up, so they are checked here; names in guardedLookup.
    if (isIP(hostOf(url))) await checkWebhookUrl(rawUrl, opts.policy);
  } catch (err) {
    return { error: (err as Error).message, refused: err instanceof WebhookUrlError };
  }
  const options: RequestOptions = {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    lookup: guardedLookup(opts.policy),
    signal: AbortSignal.timeout(opts.timeoutMs),
  };
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve({ statusCode: res.statusCode ?? 0 }));
      res.on('error', () => resolve({ statusCode: res.statusCode ?? 0 }));
    });
    req.on('error', (err) =>
      resolve({
        error: err.message || (err as NodeJS.ErrnoException).code || 'error',
        refused: err instanceof WebhookUrlError,
      }),
    );
    req.end(body);
  });
}
