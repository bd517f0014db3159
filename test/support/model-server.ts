import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createModelService,
  type ModelService,
  type ModelServiceOptions,
} from '../../src/model-service/create-model-service';

/** The reference model service on a random port. */
export async function startModelServer(
  opts: ModelServiceOptions = {},
): Promise<ModelService & { url: string; stop(): Promise<void> }> {
  const svc = createModelService({ prefillMsPerToken: 0, decodeMsPerToken: 0.2, ...opts });
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
