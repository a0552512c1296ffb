import { strict as assert } from 'node:assert';
import { ConfigError, loadConfig, parseDuration } from '../../src/config';
import { hashPassword, verifyPassword } from '../../src/users/credentials';

describe('config', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.serverName, 'localhost');
    assert.equal(c.httpPort, 8008);
    assert.equal(c.grpcPort, 50051);
    assert.equal(c.databaseUrl, null);
    assert.deepEqual(c.redisUrls, []);
    assert.equal(c.registrationSharedSecret, null);
    assert.equal(c.shutdownTimeoutMs, 10_000);
    assert.equal(c.httpXForwarded, false);
    assert.deepEqual(c.grpcTrustedGateways, ['127.0.0.1', '::1']);
    assert.equal(c.userIpsMaxAgeMs, 28 * 86_400_000);
    assert.equal(c.shadowBanMaxDelayMs, 10_000);
    assert.equal(c.passwordHashCost, 14);
    assert.equal(c.tableUpkeep, 'auto');
    assert.equal(c.tableUpkeepIntervalMs, 5_000);
  });

  it('reads TABLE_UPKEEP (auto, on, off) and TABLE_UPKEEP_INTERVAL (at least 1 s)', () => {
    assert.equal(loadConfig({ TABLE_UPKEEP: 'off' }).tableUpkeep, 'off');
    assert.equal(loadConfig({ TABLE_UPKEEP: 'on', TABLE_UPKEEP_INTERVAL: '1m' }).tableUpkeepIntervalMs, 60_000);
    assert.throws(() => loadConfig({ TABLE_UPKEEP: 'yes' }), /TABLE_UPKEEP must be one of auto, on, off/);
    assert.throws(() => loadConfig({ TABLE_UPKEEP_INTERVAL: '500' }), /TABLE_UPKEEP_INTERVAL must be at least 1000 ms/);
  });

  it('reads PASSWORD_HASH_COST within 10–20; hashes made at any cost verify', async () => {
    assert.equal(loadConfig({ PASSWORD_HASH_COST: '10' }).passwordHashCost, 10);
    assert.throws(() => loadConfig({ PASSWORD_HASH_COST: '9' }), ConfigError);
    assert.throws(() => loadConfig({ PASSWORD_HASH_COST: '21' }), ConfigError);
    const cheap = await hashPassword('secret', 10);
    const usual = await hashPassword('secret');
    assert.match(cheap, /^scrypt\$1024\$8\$1\$/);
    assert.match(usual, /^scrypt\$16384\$8\$1\$/);
    for (const h of [cheap, usual]) {
      assert.equal(await verifyPassword('secret', h), true);
      assert.equal(await verifyPassword('Secret', h), false);
    }
  });

  it('reads the client-address and shadow-ban settings', () => {
    const c = loadConfig({
      HTTP_X_FORWARDED: 'true',
      GRPC_TRUSTED_GATEWAYS: '10.0.0.5, fd00::1',
      USER_IPS_MAX_AGE: '0',
      SHADOW_BAN_MAX_DELAY: '0',
    });
    assert.equal(c.httpXForwarded, true);
    assert.deepEqual(c.grpcTrustedGateways, ['10.0.0.5', 'fd00::1']);
    assert.equal(c.userIpsMaxAgeMs, null);
    assert.equal(c.shadowBanMaxDelayMs, 0);
    assert.equal(loadConfig({ USER_IPS_MAX_AGE: '7d' }).userIpsMaxAgeMs, 7 * 86_400_000);
  });

  it('reads SHUTDOWN_TIMEOUT as a Synapse duration', () => {
    assert.equal(loadConfig({ SHUTDOWN_TIMEOUT: '30s' }).shutdownTimeoutMs, 30_000);
    assert.equal(loadConfig({ SHUTDOWN_TIMEOUT: '2500' }).shutdownTimeoutMs, 2_500);
    assert.equal(loadConfig({ SHUTDOWN_TIMEOUT: '0' }).shutdownTimeoutMs, 0);
  });

  it('reads a Redlock quorum from a comma-separated REDIS_URL', () => {
    assert.deepEqual(loadConfig({ REDIS_URL: 'redis://a:6379, redis://b:6379,redis://c:6379' }).redisUrls, [
      'redis://a:6379',
      'redis://b:6379',
      'redis://c:6379',
    ]);
  });

  it('derives the OTLP traces URL from the standard variables; none means no tracing', () => {
    assert.equal(loadConfig({}).otelTracesEndpoint, null);
    assert.equal(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).otelTracesEndpoint,
      'http://collector:4318/v1/traces',
    );
    assert.equal(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t.example/otlp' })
        .otelTracesEndpoint,
      'https://t.example/otlp',
    );
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }).otelTracesEndpoint, null);
    assert.equal(loadConfig({}).otelServiceName, 'synapse-room-admin');
    assert.equal(loadConfig({ OTEL_SERVICE_NAME: 'room-admin-eu' }).otelServiceName, 'room-admin-eu');
  });

  const bad: [Record<string, string>, RegExp][] = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://collector:4317' }, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http\(s\) URL/],
    [{ HTTP_PORT: 'eighty' }, /HTTP_PORT must be an integer/],
    [{ GRPC_PORT: '70000' }, /GRPC_PORT must be between 0 and 65535/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL must use one of postgres:, postgresql:/],
    [{ DATABASE_URL: 'not a url' }, /DATABASE_URL must be a URL/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL must use one of redis:, rediss:/],
    [{ SERVER_NAME: 'bad name' }, /SERVER_NAME must be a valid server name/],
    [{ INSTANCE_NAME: 'a b' }, /INSTANCE_NAME/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ GATEWAY_ENABLED: 'maybe' }, /GATEWAY_ENABLED must be true or false/],
    [{ WORKERS: '2' }, /WORKERS more than 1 needs REDIS_URL/],
    [{ WORKERS: '0', REDIS_URL: 'redis://x' }, /WORKERS must be between 1 and 64/],
    [{ GATEWAY_WORKERS: '-1' }, /GATEWAY_WORKERS must be an integer/],
    [{ GATEWAY_WORKERS: '1', GATEWAY_ENABLED: 'false' }, /GATEWAY_WORKERS needs the gateway enabled/],
    [{ GATEWAY_WORKERS: '1', GRPC_ENABLED: 'false' }, /GATEWAY_WORKERS needs the gRPC services enabled/],
    [{ GATEWAY_UPSTREAM_CONNECTIONS: '0' }, /GATEWAY_UPSTREAM_CONNECTIONS must be between 1 and 64/],
    [{ SHUTDOWN_TIMEOUT: 'soon' }, /SHUTDOWN_TIMEOUT must be a duration/],
    [{ HTTP_X_FORWARDED: 'sometimes' }, /HTTP_X_FORWARDED must be true or false/],
    [{ GRPC_TRUSTED_GATEWAYS: 'gateway.local' }, /GRPC_TRUSTED_GATEWAYS must be a comma-separated list of IP addresses/],
    [{ USER_IPS_MAX_AGE: 'long' }, /USER_IPS_MAX_AGE must be a duration/],
    [{ SHADOW_BAN_MAX_DELAY: 'a while' }, /SHADOW_BAN_MAX_DELAY must be a duration/],
    [{ FORGOTTEN_ROOM_RETENTION_PERIOD: '1 day' }, /FORGOTTEN_ROOM_RETENTION_PERIOD must be a duration/],
    [{ RETENTION_DEFAULT_MIN_LIFETIME: '2d', RETENTION_DEFAULT_MAX_LIFETIME: '1d' }, /can not be greater than its 'max_lifetime'/],
    [
      { RETENTION_ALLOWED_LIFETIME_MIN: '2d', RETENTION_ALLOWED_LIFETIME_MAX: '1d' },
      /'allowed_lifetime_min' can not be greater than 'allowed_lifetime_max'/,
    ],
    [{ RETENTION_PURGE_JOBS: '[{"shortest_max_lifetime": "1d"}]' }, /must have an 'interval' key/],
    [
      { RETENTION_PURGE_JOBS: '[{"interval": "1d", "shortest_max_lifetime": "3d", "longest_max_lifetime": "1d"}]' },
      /'shortest_max_lifetime' can not be greater than 'longest_max_lifetime'/,
    ],
  ];
  for (const [env, message] of bad) {
    it(`refuses ${JSON.stringify(env)} naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (e: Error) => e instanceof ConfigError && message.test(e.message),
      );
    });
  }

  it('parses Synapse durations', () => {
    assert.equal(parseDuration('1500', 'X'), 1500);
    assert.equal(parseDuration('10s', 'X'), 10_000);
    assert.equal(parseDuration('1d', 'X'), 86_400_000);
    assert.equal(parseDuration('1w', 'X'), 604_800_000);
    assert.equal(parseDuration('1y', 'X'), 31_536_000_000);
  });
});
