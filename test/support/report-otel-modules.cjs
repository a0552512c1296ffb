// Preloaded (NODE_OPTIONS=--require) into a service process by the tracing test: when the process
// exits, prints which OpenTelemetry modules it had loaded.
'use strict';
process.on('exit', () => {
  const loaded = Object.keys(require.cache).filter((k) => k.includes('@opentelemetry'));
  process.stderr.write(`otel-modules ${JSON.stringify(loaded)}\n`);
});
