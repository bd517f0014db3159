/**
 * The listen-address variables of every process `npm start` runs, all set to STACK_BIND_HOST. A new
 * listener with its own `*_HOST` setting belongs here: a unit test fails while one is missing.
 */
export function stackListenEnv(bind: string): Record<string, string> {
  return {
    API_HOST: bind,
    METRICS_HOST: bind,
    MODEL_SERVICE_HOST: bind,
    CODEC_SERVER_HOST: bind,
  };
}

/** `host:port` or `[v6]:port`; a wildcard address is reached on loopback. */
export function hostPort(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}
