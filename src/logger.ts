import pino from 'pino';
import { outsideRequest, requestLogFields } from './request-context';

export type Logger = pino.Logger;

/**
 * Structured JSON logs. Access tokens, passwords and secrets are redacted wherever they appear;
 * errors go through `serializeError` (no SQL parameter values). `destination` defaults to stdout.
 * A line written while a request's work runs carries its `requestId` (and `traceId`), whichever
 * child logger writes it (see request-context.ts).
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base,
    serializers: { err: serializeError },
    mixin: requestLogFields,
    redact: {
      paths: [
        'password',
        '*.password',
        'access_token',
        '*.access_token',
        'authorization',
        '*.authorization',
        'headers.authorization',
        'mac',
        '*.mac',
        'secret',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Fields of driver errors that carry the values of a statement or of a row. */
const VALUE_FIELDS = new Set(['params', 'parameters', 'bindings', 'values', 'detail', 'where', 'internalQuery', 'body']);
/** Fields whose text may quote values (a statement with its values inlined, an error message). */
const TEXT_FIELDS = new Set(['message', 'stack', 'sql', 'query', 'sqlMessage', 'errmsg']);
const MAX_DEPTH = 4;

/**
 * Removes literal values from SQL and from PostgreSQL error texts: quoted strings (MikroORM inlines
 * the parameters into the statement it puts in its message), `: "<value>"` (invalid input) and
 * `Key (<columns>)=(<values>)` (constraint violations). Identifiers and the statement's shape stay.
 */
export function redactSqlValues(text: string): string {
  return text
    .replace(/'(?:[^']|'')*'/g, '?')
    .replace(/(Key \([^)]*\)=)\(.*?\)(?=\s|\.|$)/g, '$1(?)')
    .replace(/: "(?:[^"]|"")*"/g, ': "?"');
}

/**
 * The `err` serializer of every logger: pino's standard one (type, message, stack, own fields,
 * causes), then, at every level of nesting, value-carrying fields (statement parameters, row
 * details) replaced and literal values stripped from texts. A string (an error's message logged as
 * `err`) is stripped the same way.
 */
export function serializeError(err: unknown): unknown {
  if (typeof err === 'string') return redactSqlValues(err);
  if (err === null || typeof err !== 'object') return err;
  return scrub(err instanceof Error ? pino.stdSerializers.err(err) : err, 0);
}

function scrub(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (VALUE_FIELDS.has(k)) out[k] = v === undefined || v === null ? v : '[redacted]';
    else if (TEXT_FIELDS.has(k) && typeof v === 'string') out[k] = redactSqlValues(v);
    else out[k] = scrub(v, depth + 1);
  }
  return out;
}

/** How often a fault that persists is summarised. */
export const FAULT_SUMMARY_MS = 15_000;

export interface FaultLogOptions {
  /** Level of the "down" and "still down" lines (default warn; recovery is info). */
  level?: 'warn' | 'error';
  summaryMs?: number;
  /**
   * For callers that never learn of a success: the fault is over once a whole summary period
   * passed without a failure.
   */
  recoverWhenQuiet?: boolean;
  /** Messages of the three lines (default `<what> down`, `<what> still down`, `<what> back up`). */
  messages?: { down: string; still: string; up: string };
}

/**
 * Logs a fault that repeats (a dependency down, every operation failing meanwhile) by its state
 * changes and a periodic summary instead of one line per failure: the first failure logs the
 * "down" line with its error; later ones are only counted, and summarised every summaryMs while
 * the fault lasts (failures in the period, in total, the last error); ok() (or a quiet period,
 * with recoverWhenQuiet) logs the "back up" line with the fault's duration and its failure count.
 * Every place that could fail per operation during an outage goes through one of these.
 */
export class FaultLog {
  private since: number | null = null;
  private total = 0;
  private period = 0;
  private lastError: unknown = undefined;
  private timer: NodeJS.Timeout | null = null;
  private readonly messages: { down: string; still: string; up: string };

  constructor(
    private readonly log: Logger,
    what: string,
    private readonly fields: Record<string, unknown> = {},
    private readonly opts: FaultLogOptions = {},
  ) {
    this.messages = opts.messages ?? { down: `${what} down`, still: `${what} still down`, up: `${what} back up` };
  }

  /** True while a fault is in progress. */
  get down(): boolean {
    return this.since !== null;
  }

  /** One operation failed. */
  failed(err?: unknown, fields: Record<string, unknown> = {}): void {
    if (this.since === null) {
      this.since = Date.now();
      this.total = 1;
      this.period = 0;
      this.log[this.opts.level ?? 'warn']({ ...this.fields, ...fields, err: errorText(err) }, this.messages.down);
      // The summaries speak for every failure of the period, not for the request that failed first.
      this.timer = outsideRequest(() => setInterval(() => this.summarise(), this.opts.summaryMs ?? FAULT_SUMMARY_MS));
      this.timer.unref();
      return;
    }
    this.total += 1;
    this.period += 1;
    this.lastError = err;
  }

  /** An operation succeeded: ends the fault, if any. */
  ok(): void {
    if (this.since !== null) this.recovered();
  }

  /** Stops the summary timer (shutdown). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private summarise(): void {
    if (this.since === null) return;
    if (this.period === 0) {
      if (this.opts.recoverWhenQuiet) this.recovered();
      return;
    }
    this.log[this.opts.level ?? 'warn'](
      { ...this.fields, failed: this.period, failedInTotal: this.total, downMs: Date.now() - this.since, err: errorText(this.lastError) },
      this.messages.still,
    );
    this.period = 0;
  }

  private recovered(): void {
    const downMs = Date.now() - (this.since ?? Date.now());
    this.close();
    this.log.info({ ...this.fields, downMs, failed: this.total }, this.messages.up);
    this.since = null;
    this.total = 0;
    this.period = 0;
    this.lastError = undefined;
  }
}

/** An error as one line (its message; driver texts are stripped of values by serializeError). */
function errorText(err: unknown): string | undefined {
  if (err === undefined || err === null) return undefined;
  return err instanceof Error ? err.message : String(err);
}
