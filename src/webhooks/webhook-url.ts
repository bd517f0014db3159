import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { AddressPolicy } from './address-policy';

/** Why a webhook URL is refused. */
export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/** The URL's host as an address or name, without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Checks a webhook URL: http(s) only, and every address its host resolves to allowed by `policy`.
 * Throws {@link WebhookUrlError} saying why not.
 */
export async function checkWebhookUrl(raw: string, policy: AddressPolicy): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WebhookUrlError('must be http or https');
  if (url.username || url.password) throw new WebhookUrlError('must not carry credentials');
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      throw new WebhookUrlError(`host ${host} does not resolve`);
    }
  }
  const refused = addresses.find((a) => !policy.allows(a));
  if (refused) {
    throw new WebhookUrlError(
      `resolves to ${refused}, a private, loopback, link-local or metadata address; an operator may allow it (WEBHOOK_ALLOWED_CIDRS)`,
    );
  }
  return url;
}
