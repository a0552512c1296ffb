/**
 * A private `redis-server` (from PATH) on a port of its own, keeping nothing on disk: for tests
 * that stop and restart Redis, and for `npm test` when no Redis answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/infra/free-port';

export interface RedisServer {
  port: number;
  url: string;
  child: ChildProcess;
  running(): boolean;
  /** SIGKILL, then waits for the exit (nothing to do once it has exited). */
  kill(): Promise<void>;
}

/** Starts redis-server on `port` (a free one when not given) and resolves once it accepts connections. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  port ??= await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((ok, ko) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) ok();
    });
    child.once('error', (err) => ko(new Error(`redis-server could not be started (${err.message})`)));
    child.once('exit', (code) => ko(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  child.stdout!.resume();
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child,
    running,
    async kill() {
      if (!running()) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
