import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createModelService,
  type ModelService,
  type ModelServiceOptions,
} from '../../dev/model-service/create-model-service';

/** The fault API token of the model services tests start (`/_faults` refuses requests without it). */
export const TEST_MODEL_ADMIN_TOKEN = 'test-model-service-admin-token';
/** Headers that authorize a `/_faults` request on a model service a test started. */
export const FAULTS_AUTH = { authorization: `Bearer ${TEST_MODEL_ADMIN_TOKEN}` } as const;

/** The reference model service on a random port. */
export async function startModelServer(
  opts: ModelServiceOptions = {},
): Promise<ModelService & { url: string; stop(): Promise<void> }> {
  const svc = createModelService({
    prefillMsPerToken: 0,
    decodeMsPerToken: 0.2,
    adminToken: TEST_MODEL_ADMIN_TOKEN,
    ...opts,
  });
  const server: Server = svc.app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    ...svc,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
