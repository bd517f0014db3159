export { freePort } from '../../dev/stack/free-port';
export { startEphemeralDevServer as startDevServer } from '../../dev/stack/temporal-dev-server';
