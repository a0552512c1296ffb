/**
 * The run must end by itself: once mocha has finished, nothing the tests started (stacks, pools,
 * Redis clients, servers, child processes, timers) may keep the process alive. armLeakCheck()
 * starts an unreferenced timer; when everything was closed, the process exits before it fires.
 * When it fires, something is still holding the event loop: the check names what (sockets with
 * their peers, servers with their ports, child processes with their commands, pending timers),
 * makes the exit code non-zero, and exits, so a leak fails the run and can never hang it.
 */

/** How long the process may take to wind down after mocha has finished (closing sockets drain). */
export const LEAK_GRACE_MS = 3_000;
/** The exit code of a run that passed but leaked (a failing run keeps mocha's failure count). */
export const LEAK_EXIT_CODE = 70;

/** Handles the process always has, which never keep it alive on their own. */
function isStdio(h: unknown): boolean {
  return h === process.stdin || h === process.stdout || h === process.stderr;
}

type HandleLike = {
  constructor?: { name?: string };
  hasRef?: () => boolean;
  remoteAddress?: string;
  remotePort?: number;
  localPort?: number;
  address?: () => unknown;
  pid?: number;
  spawnargs?: string[];
  _handle?: unknown;
};

function describeHandle(h: HandleLike): string {
  const kind = h.constructor?.name ?? typeof h;
  if (h.spawnargs) return `${kind} pid ${h.pid}: ${h.spawnargs.join(' ').slice(0, 200)}`;
  if (h.remotePort !== undefined) return `${kind} 127.0.0.1:${h.localPort} → ${h.remoteAddress}:${h.remotePort}${peerName(h.remotePort)}`;
  if (typeof h.address === 'function') {
    try {
      return `${kind} listening on ${JSON.stringify(h.address())}`;
    } catch {
      /* not a server after all */
    }
  }
  return kind;
}

function peerName(port: number): string {
  const pg = Number(new URL(process.env.TEST_DATABASE_URL ?? 'postgres://x@127.0.0.1:5432/x').port || 5432);
  const redis = Number(new URL(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379);
  if (port === pg) return ' (PostgreSQL: a pool or client not closed)';
  if (port === redis) return ' (Redis: a client not disconnected)';
  return '';
}

/** What keeps the process alive now, stdio aside. */
export function liveResources(): string[] {
  const handles = (process as unknown as { _getActiveHandles(): HandleLike[] })._getActiveHandles();
  const named = handles.filter((h) => !isStdio(h) && (h.hasRef?.() ?? true)).map(describeHandle);
  // Timers and pending requests are not handles: count them by type.
  const kinds = process
    .getActiveResourcesInfo()
    .filter((k) => !/^(TTYWrap|PipeWrap|TCPSocketWrap|TCPServerWrap|ProcessWrap|SignalWrap)$/.test(k));
  const counts = new Map<string, number>();
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...named, ...[...counts].map(([k, n]) => `${n} × ${k}`)];
}

/** Arms the check; call once mocha has finished (its global teardown). */
export function armLeakCheck(graceMs = LEAK_GRACE_MS): void {
  const timer = setTimeout(() => {
    const live = liveResources();
    process.stderr.write(
      `\n[leak check] the process was still alive ${graceMs} ms after the tests finished; what keeps it alive:\n` +
        (live.length ? live.map((l) => `  - ${l}\n`) : ['  (nothing nameable: a timer or request that completed since)\n']).join('') +
        'Close what the tests started (stack.stop(), orm.close(), redis.disconnect(), clearInterval) so the run exits by itself.\n',
    );
    // Registered after mocha's own exit listener, which sets the failure count: a leak adds a failure.
    process.on('exit', () => {
      if (!process.exitCode) process.exitCode = LEAK_EXIT_CODE;
    });
    process.exit();
  }, graceMs);
  timer.unref();
}
