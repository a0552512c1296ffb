/** Entry point: `npm start`. Runs the gRPC services and the REST gateway in one process. */
import { ConfigError, loadConfig } from './config';
import { startApp } from './app';

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
  // Handlers go in before start-up so a signal arriving while starting still stops cleanly.
  let requested: string | null = null;
  let app: Awaited<ReturnType<typeof startApp>> | null = null;
  const shutdown = (signal: string) => {
    requested = signal;
    if (!app) return;
    app.log.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err) => {
        app?.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  app = await startApp(config);
  if (requested) shutdown(requested);
}

main().catch((err) => {
  process.stderr.write(`start-up failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
