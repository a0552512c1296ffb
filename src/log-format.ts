/**
 * Where `npm start` writes its logs: JSON lines for machines, or readable lines (pino-pretty,
 * formatted in this process, no worker thread) when LOG_FORMAT is `pretty`, or `auto` and stdout
 * is a terminal. Every field stays (request ids included); only the presentation changes.
 */
import type pino from 'pino';
import type { Config } from './config';

/** The destination for `format`, or undefined for pino's default (JSON on stdout). */
export function logDestination(format: Config['logFormat'], isTty = process.stdout.isTTY === true): pino.DestinationStream | undefined {
  if (format === 'json' || (format === 'auto' && !isTty)) return undefined;
  // Loaded only when used: machines reading JSON never load it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty.build({ colorize: isTty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true, sync: true });
}
