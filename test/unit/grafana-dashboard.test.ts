/**
 * docs/grafana-dashboard.json only queries series this service exports.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { register } from '../../src/metrics/metrics';
import '../../src/metrics/sources';

describe('Grafana dashboard', () => {
  it('queries only exported synapse_room_admin_* series', async () => {
    const dash = JSON.parse(readFileSync(join(__dirname, '../../docs/grafana-dashboard.json'), 'utf8'));
    const exprs: string[] = dash.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
    assert.ok(exprs.length >= 15);
    const exported = new Set((await register.getMetricsAsJSON()).map((m) => m.name));
    for (const expr of exprs) {
      for (const [name] of expr.matchAll(/synapse_room_admin_\w+/g)) {
        assert.ok(exported.has(name.replace(/_(bucket|count|sum)$/, '')), `${name} in ${expr}`);
      }
    }
  });
});
