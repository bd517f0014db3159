/**
 * A Map bounded to `max` entries that forgets the least recently used one to make room. A Map keeps
 * insertion order, so re-inserting on read is all an LRU needs; twenty lines here rather than
 * lru-cache@11, which would displace the 5.x copy other packages resolve from node_modules' top.
 */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`LruMap max must be at least 1, got ${max}`);
  }

  /** The value, marked most recently used. */
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v === undefined) return undefined;
    this.map.delete(k);
    this.map.set(k, v);
    return v;
  }

  /** The value without marking it used. */
  peek(k: K): V | undefined {
    return this.map.get(k);
  }

  /** Sets `k`; returns the entry evicted to make room, if any. */
  set(k: K, v: V): [K, V] | undefined {
    this.map.delete(k);
    let evicted: [K, V] | undefined;
    if (this.map.size >= this.max) {
      const oldest = this.map.entries().next().value as [K, V];
      this.map.delete(oldest[0]);
      evicted = oldest;
    }
    this.map.set(k, v);
    return evicted;
  }

  delete(k: K): boolean {
    return this.map.delete(k);
  }

  clear(): void {
    this.map.clear();
  }

  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }
}
