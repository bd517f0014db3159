import { randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { CLEAR_AT_REST } from '../../src/codec/at-rest-sealer';
import { RequestFollower } from '../../src/streams/request-follower';
import { TokenRelay } from '../../src/streams/token-relay';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';

/**
 * The token relay on a real 3-node Redis Cluster: the end announcement writes the stream's `final`
 * and the end signal in one pipeline, which a cluster takes only when both keys share a slot.
 */
let cluster: LocalRedisCluster;
let client: Cluster;
beforeAll(async () => {
  cluster = await startRedisCluster(3);
  client = cluster.connect();
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([client?.quit()]);
  await cluster?.stop();
});

test('announceEnd, a blocked end wait and a token follower on a cluster', async () => {
  const relay = new TokenRelay({
    redis: client,
    prefix: 'relay-cluster',
    retentionS: 60,
    sealer: CLEAR_AT_REST,
  });
  const follower = new RequestFollower({ relay, idleCheckMs: 5000 });
  const signal = new AbortController().signal;
  const terminalStatus = async (): Promise<string | undefined> => undefined;
  const ids = Array.from({ length: 8 }, () => `inf_${randomUUID().replace(/-/g, '')}`);
  for (const id of ids) {
    const slot = (key: string): Promise<unknown> => client.call('CLUSTER', 'KEYSLOT', key);
    expect(await slot(relay.endKey(id))).toBe(await slot(relay.key(id)));
    const waiting = follower.end(id, { signal, terminalStatus, fresh: true });
    await relay.append(id, [{ type: 'text', attempt: 1, text: 'hi' }]);
    await relay.announceEnd(id, 'completed');
    expect(await waiting).toEqual({ status: 'completed', by: 'signal' });
    const seen: string[] = [];
    for await (const e of follower.follow(id, { signal, terminalStatus })) seen.push(e.event.type);
    expect(seen).toEqual(['text', 'final']);
  }
});
