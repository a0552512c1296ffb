/** Words and a seeded PRNG for generated rooms: deterministic for a given seed. */

const ADJECTIVES = [
  'quiet',
  'busy',
  'open',
  'secret',
  'friendly',
  'ancient',
  'bright',
  'hidden',
  'daily',
  'lunar',
  'northern',
  'tiny',
  'vast',
  'rusty',
  'golden',
  'noisy',
  'calm',
  'wild',
  'early',
  'late',
];
const NOUNS = [
  'garden',
  'lounge',
  'workshop',
  'library',
  'harbour',
  'kitchen',
  'station',
  'forum',
  'studio',
  'market',
  'observatory',
  'campfire',
  'council',
  'cellar',
  'bridge',
  'valley',
  'lab',
  'guild',
  'choir',
  'arcade',
];
const TOPICS = [
  'Weekly sync and notes',
  'Ask anything, be kind',
  'Release planning',
  'Off-topic chatter',
  'Support for new members',
  'Announcements only',
  'Design reviews',
  'Incident coordination',
  'Book club',
  'Photography and travel',
];
const WORDS = [
  'the',
  'build',
  'is',
  'green',
  'again',
  'anyone',
  'seen',
  'my',
  'keys',
  'meeting',
  'moved',
  'to',
  'tomorrow',
  'great',
  'idea',
  'ship',
  'it',
  'coffee',
  'break',
  'server',
  'restart',
  'done',
  'thanks',
  'review',
  'please',
  'lunch',
  'today',
  'why',
  'not',
  'sure',
  'later',
  'deploy',
  'looks',
  'good',
  'me',
  'we',
  'should',
  'talk',
  'about',
  'this',
];
const FIRST_NAMES = [
  'alice',
  'bob',
  'carol',
  'dave',
  'erin',
  'frank',
  'grace',
  'heidi',
  'ivan',
  'judy',
  'mallory',
  'niaj',
  'olivia',
  'peggy',
  'rupert',
  'sybil',
  'trent',
  'victor',
  'walter',
  'zoe',
];
export const REACTIONS = ['👍', '❤️', '😂', '🎉', '👀', '🚀', '✅', '🙏'];

/** mulberry32: a small, fast, seedable PRNG. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  letters(n: number): string {
    const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let s = '';
    for (let i = 0; i < n; i++) s += a[this.int(a.length)];
    return s;
  }
}

export const roomName = (r: Rng) => `${r.pick(ADJECTIVES)} ${r.pick(NOUNS)}`.replace(/^./, (c) => c.toUpperCase());
export const topic = (r: Rng) => r.pick(TOPICS);
export const aliasPart = (name: string, r: Rng) => `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${r.letters(4).toLowerCase()}`;
export const personName = (i: number) =>
  `${FIRST_NAMES[i % FIRST_NAMES.length]}${i >= FIRST_NAMES.length ? Math.floor(i / FIRST_NAMES.length) : ''}`;

export function sentence(r: Rng): string {
  const n = 3 + r.int(10);
  const words: string[] = [];
  for (let i = 0; i < n; i++) words.push(r.pick(WORDS));
  const s = words.join(' ');
  return `${s[0].toUpperCase()}${s.slice(1)}${r.pick(['.', '!', '?', '', '...'])}`;
}
