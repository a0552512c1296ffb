/**
 * The address and user agent of the client a request comes from, as the REST gateway passes them
 * to the gRPC services (metadata) and the call adapter records them (see users/client-ips.ts).
 */

/** Where a request came from: the client's address and its User-Agent header ('' when none). */
export interface ClientAddress {
  ip: string;
  userAgent: string;
}

/** Metadata by which a trusted gateway names the client it calls for. */
export const META_CLIENT_IP = 'x-client-ip';
export const META_CLIENT_USER_AGENT = 'x-client-user-agent';
/** The longest user agent passed on and stored (longer ones are cut). */
export const MAX_USER_AGENT_LENGTH = 1024;

/** An address without brackets, IPv4-mapped IPv6 written as IPv4 (`::ffff:10.0.0.1` → `10.0.0.1`). */
export function normaliseAddress(address: string): string {
  const bare = address.startsWith('[') && address.includes(']') ? address.slice(1, address.indexOf(']')) : address;
  return bare.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/**
 * The first address of an `X-Forwarded-For` header (the client, as Synapse's `x_forwarded`
 * listener reads it), or null when there is none.
 */
export function firstForwardedFor(header: string | string[] | undefined): string | null {
  const raw = Array.isArray(header) ? header[0] : header;
  const first = raw?.split(',')[0].trim();
  return first ? first : null;
}

/**
 * A metadata-safe user agent: printable ASCII only (other characters become `?`, as gRPC metadata
 * cannot carry them), at most MAX_USER_AGENT_LENGTH characters.
 */
export function metadataUserAgent(ua: string | undefined): string {
  return (ua ?? '').slice(0, MAX_USER_AGENT_LENGTH).replace(/[^\x20-\x7e]/g, '?');
}
