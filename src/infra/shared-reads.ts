/**
 * Reads shared while they run: a read asked for while an identical one (same key) is under way
 * gets that read's answer instead of going to the database again. Nothing is kept once a read
 * has settled, so a later call always reads anew.
 */
export class SharedReads<V> {
  private readonly running = new Map<string, Promise<V>>();

  share(key: string, read: () => Promise<V>): Promise<V> {
    let pending = this.running.get(key);
    if (!pending) {
      pending = read().finally(() => this.running.delete(key));
      this.running.set(key, pending);
    }
    return pending;
  }
}
