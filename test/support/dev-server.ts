export { freePort } from '../../src/dev/free-port';
export { startEphemeralDevServer as startDevServer } from '../../src/dev/temporal-dev-server';
