/**
 * Access tokens and password hashes. Tokens are random (160 bits) and stored only as SHA-256
 * digests; passwords use scrypt with a per-password salt.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const SCRYPT = { r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** scrypt's cost as log2(N): 14 is N = 16,384 (about 50 ms on one core here). `PASSWORD_HASH_COST` sets it. */
export const DEFAULT_PASSWORD_HASH_COST = 14;
const KEY_LEN = 32;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A Synapse-shaped token: `syt_<base64 localpart>_<random>_<checksum>`. */
export function newAccessToken(localpart: string): string {
  const b64 = Buffer.from(localpart).toString('base64url');
  const rand = randomBytes(20).toString('base64url');
  const crc = createHash('sha256').update(`${b64}_${rand}`).digest('base64url').slice(0, 6);
  return `syt_${b64}_${rand}_${crc}`;
}

export function newDeviceId(): string {
  return randomBytes(6).toString('hex').toUpperCase().slice(0, 10);
}

/**
 * A new password hash at `cost` (log2 of scrypt's N). The hash records its parameters, so hashes
 * made at another cost still verify after the setting changes.
 */
export async function hashPassword(password: string, cost = DEFAULT_PASSWORD_HASH_COST): Promise<string> {
  const salt = randomBytes(16);
  const N = 2 ** cost;
  const key = await scrypt(password, salt, KEY_LEN, { ...SCRYPT, N });
  return `scrypt$${N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  const [kind, n, r, p, salt, key] = stored.split('$');
  if (kind !== 'scrypt' || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return got.length === expected.length && timingSafeEqual(got, expected);
}
