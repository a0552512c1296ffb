/** Ports for servers the service (or its tests and benches) starts itself. */
import { createServer } from 'node:net';

function listenOnce(port: number, host: string): Promise<number> {
  return new Promise((ok, ko) => {
    const srv = createServer();
    srv.once('error', ko);
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => ok(typeof addr === 'object' && addr ? addr.port : port));
    });
  });
}

/** A port free on `host` now: `preferred` when it is free, otherwise one the system picks. */
export async function freePort(host = '127.0.0.1', preferred = 0): Promise<number> {
  return preferred ? listenOnce(preferred, host).catch(() => listenOnce(0, host)) : listenOnce(0, host);
}
