import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs. Access tokens, passwords and secrets are redacted wherever they appear. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base,
    redact: {
      paths: ['password', '*.password', 'access_token', '*.access_token', 'authorization', '*.authorization', 'headers.authorization', 'mac', '*.mac', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  });
}
