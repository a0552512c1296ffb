/**
 * `npm run bench -- <name> [options]`: runs bench/<name>.bench.ts. Every benchmark generates its
 * own data, prints its figures and compares them with a baseline measured in the same run.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

async function main() {
  const [name, ...args] = process.argv.slice(2);
  const available = readdirSync(__dirname)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.replace('.bench.ts', ''));
  if (!name || !available.includes(name)) {
    process.stderr.write(`usage: npm run bench -- <${available.join('|')}> [options]\n`);
    process.exit(2);
  }
  const mod = (await import(join(__dirname, `${name}.bench.ts`))) as { run(args: string[]): Promise<void> };
  await mod.run(args);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
