/**
 * Entry point: `npm start`. Runs the gRPC services and the REST gateway in one process, or with
 * `WORKERS=N` a primary that runs N such processes on the same ports (src/workers.ts).
 */
import cluster from 'node:cluster';
import { ConfigError, loadConfig } from './config';
import { startApp } from './app';
import { createLogger } from './logger';
import { logDestination } from './log-format';
import { runPrimary } from './workers';

/** How long after SHUTDOWN_TIMEOUT a stop that has not finished gives up and exits. */
const BACKSTOP_MS = 10_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if ((config.workers > 1 || config.gatewayWorkers > 0) && cluster.isPrimary) {
    await runPrimary(
      config,
      createLogger(config.logLevel, { instance: config.instanceName, role: 'primary' }, logDestination(config.logFormat)),
    );
    return;
  }
  // Handlers go in before start-up so a signal arriving while starting still stops cleanly.
  let requested: string | null = null;
  let app: Awaited<ReturnType<typeof startApp>> | null = null;
  let stopping = false;
  // A gRPC-only worker of GATEWAY_WORKERS keeps serving until the primary says the gateway
  // processes, which call it, have drained.
  const gatewaysStopped =
    cluster.isWorker && !config.gatewayEnabled
      ? new Promise<void>((ok) => process.on('message', (m: { kind?: string }) => m?.kind === 'gateways-stopped' && ok()))
      : undefined;
  const shutdown = (signal: string) => {
    requested = signal;
    if (!app || stopping) return;
    stopping = true;
    app.log.info({ signal, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    // Last resort: closing the pools waits for statements still running; never wait forever.
    setTimeout(() => {
      app?.log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + BACKSTOP_MS).unref();
    app.stop({ keepServingUntil: gatewaysStopped }).then(
      () => process.exit(0),
      (err) => {
        app?.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  app = await startApp(config, createLogger(config.logLevel, { instance: config.instanceName }, logDestination(config.logFormat)));
  // A worker tells the primary it serves (gateway processes start once a worker does).
  if (cluster.isWorker) process.send?.({ kind: 'ready' });
  if (requested) shutdown(requested);
}

main().catch((err) => {
  process.stderr.write(`start-up failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
