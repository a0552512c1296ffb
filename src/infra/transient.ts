/**
 * Which errors mean "a dependency is out for now; the same work will succeed later": Redis locks
 * that could not be granted or kept (503), PostgreSQL unreachable, restarting or dropping the
 * connection, and transactions PostgreSQL aborted to resolve a conflict (serialization failure,
 * deadlock). Anything else (bad input, a bug, a constraint) is permanent.
 */
import { ConnectionException, DeadlockException, LockWaitTimeoutException } from '@mikro-orm/core';
import { MatrixError } from '../errors';

/** SQLSTATEs of transient failures (besides class 08, connection exceptions). */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '53300', // too_many_connections
  '25P03', // idle_in_transaction_session_timeout (the session was ended)
]);

/** Socket-level failures of the driver. */
const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Messages of the pg driver and the pool that carry no code. */
const TRANSIENT_MESSAGE =
  /Connection terminated|not queryable|Timeout acquiring a connection|Connection ended unexpectedly|terminating connection/i;

/** SQLSTATEs of a conflict between transactions that a later attempt gets past. */
const CONFLICT_SQLSTATES = new Set(['40001', '40P01']);

/** Whether `err` says the database cannot be reached or used right now (connection lost or refused, server going down, pool exhausted). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof ConnectionException) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (code.startsWith('08') || (TRANSIENT_SQLSTATES.has(code) && !CONFLICT_SQLSTATES.has(code)) || TRANSIENT_SOCKET_CODES.has(code))
  )
    return true;
  if (err.name === 'KnexTimeoutError') return true;
  return TRANSIENT_MESSAGE.test(err.message);
}

/** Whether `err` is a dependency outage or conflict that retrying later can get past. */
export function isTransient(err: unknown): boolean {
  if (err instanceof MatrixError) return err.httpStatus === 503;
  if (err instanceof DeadlockException || err instanceof LockWaitTimeoutException) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONFLICT_SQLSTATES.has(code)) return true;
  return isDatabaseUnavailable(err);
}
