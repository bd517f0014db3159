import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { AddressPolicy } from './address-policy';

/** Why a webhook URL is refused. */
export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/** The URL's host as an address or name, without IPv6 brackets. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Every address a host name resolves to (a DNS look-up); injected in tests to count look-ups. */
export type HostResolver = (host: string) => Promise<string[]>;

/** The system resolver (getaddrinfo, as the delivery's connection uses). */
export const systemResolver: HostResolver = async (host) =>
  (await lookup(host, { all: true })).map((a) => a.address);

/**
 * The syntactic half of the check, with no I/O: an http(s) URL without credentials. Throws
 * {@link WebhookUrlError} saying why not.
 */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new WebhookUrlError('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WebhookUrlError('must be http or https');
  if (url.username || url.password) throw new WebhookUrlError('must not carry credentials');
  return url;
}

/**
 * Checks a webhook URL: {@link parseWebhookUrl}, then every address its host resolves to allowed by
 * `policy` (one DNS look-up unless the host is an address). Throws {@link WebhookUrlError} saying why not.
 */
export async function checkWebhookUrl(
  raw: string,
  policy: AddressPolicy,
  resolve: HostResolver = systemResolver,
): Promise<URL> {
  const url = parseWebhookUrl(raw);
  const host = hostOf(url);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await resolve(host);
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
