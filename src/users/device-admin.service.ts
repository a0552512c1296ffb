/**
 * Admin operations on a local user's devices and password (`/_synapse/admin/v2/users/<id>/devices…`,
 * `POST /_synapse/admin/v1/reset_password/<id>`), with Synapse's errors (spec §8). Deleting a device
 * deletes its access tokens; this instance's token cache forgets them at once and other instances
 * when PostgreSQL announces the deletions (see auth-invalidation).
 */
import type { Requester } from '../context';
import type { Em } from '../infra/orm';
import { Codes, MatrixError, badRequest, invalidParam, notFound } from '../errors';
import { domainOf } from '../matrix/ids';
import { Body, parseJsonObject } from '../matrix/json-body';
import { DEFAULT_PASSWORD_HASH_COST, hashPassword } from './credentials';
import type { TokenCache } from './token-cache';
import type { ClientIpRecorder } from './client-ips';
import { UserReadsRepository, type DeviceRow } from './user-reads.repository';
import { parseUserId } from './user-reads.service';

/** Synapse's MAX_DEVICE_DISPLAY_NAME_LEN. */
export const MAX_DEVICE_DISPLAY_NAME_LEN = 100;
const MAX_PASSWORD_LENGTH = 512;

export class DeviceAdminService {
  constructor(
    private readonly serverName: string,
    private readonly tokens: TokenCache,
    /** Buffered client sightings, laid over the stored last-seen columns. */
    private readonly clientIps: ClientIpRecorder | null = null,
    /** log2 of scrypt's N for new password hashes (`PASSWORD_HASH_COST`). */
    private readonly passwordHashCost = DEFAULT_PASSWORD_HASH_COST,
    private readonly repo = new UserReadsRepository(),
  ) {}

  /** 400 for an invalid or remote id, 404 "Unknown user" for an unknown one (Synapse's device-route checks). */
  async checkUser(em: Em, userId: string): Promise<void> {
    parseUserId(userId);
    if (domainOf(userId) !== this.serverName) throw badRequest('Can only lookup local users');
    if (!(await this.repo.userExists(em, userId))) throw notFound('Unknown user');
  }

  async listDevices(em: Em, userId: string): Promise<DeviceRow[]> {
    await this.checkUser(em, userId);
    return this.withPending(userId, await this.repo.devices(em, userId));
  }

  /**
   * Devices with their latest sighting not yet written (Synapse's get_last_client_ip_by_device
   * overlays its pending batch the same way).
   */
  private withPending(userId: string, devices: DeviceRow[]): DeviceRow[] {
    const pending = this.clientIps?.pendingFor(userId) ?? [];
    if (pending.length === 0) return devices;
    return devices.map((d) => {
      let latest = null;
      for (const p of pending) if (p.deviceId === d.device_id && (!latest || p.lastSeen > latest.lastSeen)) latest = p;
      if (!latest || (d.last_seen_ts !== null && d.last_seen_ts > latest.lastSeen)) return d;
      return { ...d, last_seen_ip: latest.ip, last_seen_user_agent: latest.userAgent, last_seen_ts: latest.lastSeen };
    });
  }

  /** One device; 404 "Not found" when it does not exist. */
  async getDevice(em: Em, userId: string, deviceId: string): Promise<DeviceRow> {
    await this.checkUser(em, userId);
    const device = await this.repo.device(em, userId, deviceId);
    if (!device) throw notFound('Not found');
    return this.withPending(userId, [device])[0];
  }

  /**
   * Renames a device. Without a display name nothing happens, even for an unknown device; with one,
   * 400 M_TOO_LARGE past 100 characters and 404 "Not found" for an unknown device.
   */
  async updateDevice(em: Em, userId: string, deviceId: string, given: string | undefined | { body: Uint8Array }): Promise<void> {
    await this.checkUser(em, userId);
    // A REST body as received is read after the user is checked, as Synapse does (empty: no change).
    const displayName = typeof given === 'object' ? new Body(parseJsonObject(given.body, true)).string('display_name') : given;
    if (displayName === undefined) return;
    if ([...displayName].length > MAX_DEVICE_DISPLAY_NAME_LEN) {
      throw new MatrixError(400, `Device display name is too long (max ${MAX_DEVICE_DISPLAY_NAME_LEN})`, Codes.TOO_LARGE);
    }
    if (!(await this.repo.renameDevice(em, userId, deviceId, displayName))) throw notFound('Not found');
  }

  /** Deletes devices and their access tokens; unknown devices are ignored. */
  async deleteDevices(em: Em, userId: string, given: string[] | { body: Uint8Array }): Promise<void> {
    await this.checkUser(em, userId);
    // A REST body as received (`{"devices": [...]}`) is read after the user is checked.
    const deviceIds = Array.isArray(given) ? given : devicesOfBody(given.body);
    await this.repo.deleteDevices(em, userId, deviceIds);
    this.tokens.evictUser(userId);
  }

  /**
   * Replaces the password of a user (no password policy, as in Synapse). With `logoutDevices`
   * (the default), every device and token of the user is deleted; an admin resetting their own
   * password keeps the device and token of the call. 404 "Unknown user" for an unknown user.
   */
  async resetPassword(em: Em, requester: Requester, userId: string, newPassword: string, logoutDevices: boolean): Promise<void> {
    parseUserId(userId);
    if (newPassword.length > MAX_PASSWORD_LENGTH || newPassword.includes('\0')) throw invalidParam('Invalid password');
    // Synapse spares the requester's device and token even when resetting someone else's password
    // (a side effect of sharing the self-service code); here only one's own session is spared.
    const self = requester.userId === userId;
    const found = await this.repo.setPassword(
      em,
      userId,
      await hashPassword(newPassword, this.passwordHashCost),
      logoutDevices,
      self ? requester.deviceId : null,
      self ? requester.tokenId : null,
    );
    if (!found) throw notFound('Unknown user');
    if (logoutDevices) this.tokens.evictUser(userId);
  }
}

/** `{"devices": [<device id>, ...]}`, with Synapse's errors (400 M_MISSING_PARAM, M_BAD_JSON). */
function devicesOfBody(raw: Uint8Array): string[] {
  const b = new Body(parseJsonObject(raw, false));
  b.require('devices');
  return b.stringList('devices') ?? [];
}
