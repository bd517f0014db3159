import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';

/** Options of {@link WebhookReceiver}. */
export interface WebhookReceiverOptions {
  /** Fraction of deliveries recorded, then answered by a dropped connection (a lost ack: it is re-sent). @default 0.1 */
  lostAckRate?: number;
  /** Fraction answered 500 without being recorded. @default 0.05 */
  failRate?: number;
}

/**
 * A webhook endpoint as a careful client writes one: verifies the Standard Webhooks signature, and
 * dedupes by `webhook-id` (delivery is at least once). It also misbehaves on purpose, so that retries
 * and duplicates really happen.
 */
export class WebhookReceiver {
  /** Deliveries received per webhook-id (before dedupe). */
  readonly received = new Map<string, { count: number; type: string; requestId: string; status: string }>();
  badSignatures = 0;
  failedOnPurpose = 0;
  private secret: Buffer | undefined;
  private server: Server | undefined;
  url = '';

  constructor(private readonly o: WebhookReceiverOptions = {}) {}

  /** The `whsec_...` secret that signs deliveries to requests' own webhook_url. */
  setSecret(secret: string): void {
    this.secret = Buffer.from(secret.split('_')[1] ?? '', 'base64');
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const id = String(req.headers['webhook-id'] ?? '');
        if (
          !this.verify(
            id,
            String(req.headers['webhook-timestamp'] ?? ''),
            body,
            String(req.headers['webhook-signature'] ?? ''),
          )
        ) {
          this.badSignatures++;
          return void res.writeHead(401).end();
        }
        if (Math.random() < (this.o.failRate ?? 0.05)) {
          this.failedOnPurpose++;
          return void res.writeHead(500).end();
        }
        const payload = JSON.parse(body) as { type: string; data: { id: string; status: string } };
        const seen = this.received.get(id);
        if (seen) seen.count++;
        else
          this.received.set(id, {
            count: 1,
            type: payload.type,
            requestId: payload.data.id,
            status: payload.data.status,
          });
        if (Math.random() < (this.o.lostAckRate ?? 0.1)) return void res.socket?.destroy();
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}/hook`;
    return this.url;
  }

  private verify(id: string, ts: string, body: string, signature: string): boolean {
    if (!this.secret) return true;
    const mac = createHmac('sha256', this.secret).update(`${id}.${ts}.${body}`).digest();
    return signature.split(' ').some((s) => {
      const [v, sig] = s.split(',');
      const got = Buffer.from(sig ?? '', 'base64');
      return v === 'v1' && got.length === mac.length && timingSafeEqual(got, mac);
    });
  }

  /** Deliveries received more than once (the receiver kept one of each). */
  duplicates(): number {
    let n = 0;
    for (const r of this.received.values()) n += r.count - 1;
    return n;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
