/**
 * Access tokens and password hashes. Tokens are random (160 bits) and stored only as SHA-256
 * digests; passwords use scrypt with a per-password salt.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
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

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
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
