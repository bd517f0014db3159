import type { DataConverter } from '@temporalio/common';
import { ConfigError } from '../config/load-config';
import type { Env } from '../config/schema';
import { EncryptionCodec } from './encryption-codec';

/** Whether new payloads are encrypted under this configuration. */
export function payloadEncryptionOn(cfg: Env): boolean {
  return cfg.PAYLOAD_ENCRYPTION !== 'off' && !!cfg.PAYLOAD_KEYS?.length;
}

/**
 * The payload codec of every process that reads or writes Temporal payloads, or undefined when
 * there are no keys. Secure by default: outside development, no keys is an error unless
 * PAYLOAD_ENCRYPTION=off says plaintext history is intended.
 */
export function payloadCodec(cfg: Env): EncryptionCodec | undefined {
  const keys = cfg.PAYLOAD_KEYS ?? [];
  if (!keys.length) {
    if (cfg.APP_ENV !== 'development' && cfg.PAYLOAD_ENCRYPTION !== 'off') {
      throw new ConfigError([
        {
          variable: 'PAYLOAD_KEYS',
          message: `is required when APP_ENV=${cfg.APP_ENV}: prompts and outputs in Temporal history are encrypted (k1:$(openssl rand -base64 32)); set PAYLOAD_ENCRYPTION=off to store them in clear`,
        },
      ]);
    }
    return undefined;
  }
  return new EncryptionCodec({
    keys,
    // Schema-checked: the named key exists, or there is exactly one.
    activeKeyId: payloadEncryptionOn(cfg) ? (cfg.PAYLOAD_ACTIVE_KEY_ID ?? keys[0]!.id) : undefined,
  });
}

/** Module of the failure converter: clients and workers require it, the workflow bundle includes it. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/**
 * The data converter of every Temporal client and worker (API, workers, CLIs): the payload codec
 * (when there are keys) and the failure converter that hands failure messages to it. Payload
 * conversion inside the workflow sandbox stays the default.
 */
export function createDataConverter(cfg: Env): DataConverter {
  const codec = payloadCodec(cfg);
  return {
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(codec ? { payloadCodecs: [codec] } : {}),
  };
}
