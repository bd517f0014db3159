export { freePort, startEphemeralDevServer as startDevServer } from '../../src/dev/temporal-dev-server';
