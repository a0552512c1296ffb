/**
 * The public room list's `since` tokens, as Synapse writes them: unpadded base64 of the msgpack
 * map `{m: joined_members, r: room_id, d: is_forward}` (only the msgpack types such a map holds).
 */
import { invalidParam } from '../errors';

export interface RoomListBatch {
  joinedMembers: number;
  roomId: string;
  forwards: boolean;
}

function packString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
  if (b.length < 0x100) return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
  const h = Buffer.alloc(3);
  h[0] = 0xda;
  h.writeUInt16BE(b.length, 1);
  return Buffer.concat([h, b]);
}

function packUint(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0xcc, n]);
  if (n < 0x10000) return Buffer.from([0xcd, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0xce;
  b.writeUInt32BE(n, 1);
  return b;
}

export function encodeRoomListToken(t: RoomListBatch): string {
  const body = Buffer.concat([
    Buffer.from([0x83]),
    packString('m'),
    packUint(t.joinedMembers),
    packString('r'),
    packString(t.roomId),
    packString('d'),
    Buffer.from([t.forwards ? 0xc3 : 0xc2]),
  ]);
  return body.toString('base64').replace(/=+$/, '');
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  private byte(): number {
    if (this.at >= this.b.length) throw new Error('truncated');
    return this.b[this.at++];
  }
  private bytes(n: number): Buffer {
    if (this.at + n > this.b.length) throw new Error('truncated');
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  value(): unknown {
    const t = this.byte();
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if ((t & 0xe0) === 0xa0) return this.bytes(t & 0x1f).toString('utf8');
    if ((t & 0xf0) === 0x80) {
      const out: Record<string, unknown> = {};
      for (let i = t & 0x0f; i > 0; i--) out[String(this.value())] = this.value();
      return out;
    }
    switch (t) {
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcc:
        return this.byte();
      case 0xcd:
        return this.bytes(2).readUInt16BE(0);
      case 0xce:
        return this.bytes(4).readUInt32BE(0);
      case 0xd9:
        return this.bytes(this.byte()).toString('utf8');
      case 0xda:
        return this.bytes(this.bytes(2).readUInt16BE(0)).toString('utf8');
      default:
        throw new Error(`unsupported msgpack type 0x${t.toString(16)}`);
    }
  }
  get done(): boolean {
    return this.at === this.b.length;
  }
}

/** Decodes a `since` token; anything else is 400 M_INVALID_PARAM (Synapse answers 500). */
export function decodeRoomListToken(token: string): RoomListBatch {
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token)) throw new Error('not base64');
    const r = new Reader(Buffer.from(token, 'base64'));
    const v = r.value() as Record<string, unknown>;
    if (!r.done || !v || typeof v !== 'object') throw new Error('not a map');
    const { m, r: roomId, d } = v;
    if (typeof m !== 'number' || !Number.isInteger(m) || typeof roomId !== 'string' || typeof d !== 'boolean')
      throw new Error('bad fields');
    return { joinedMembers: m, roomId, forwards: d };
  } catch {
    throw invalidParam(`Invalid since token: ${token}`);
  }
}
