import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Hamt, Leaf } from '../src/hamt.js';

/**
 * Depth of the deepest node, read through the nodes' shape (`slots` of bitmap
 * nodes; collision nodes count one level), so that the shipped class carries no
 * test-only member.
 */
function depth(map: Hamt<unknown>): number {
  type Node = { slots?: Node[]; leaves?: unknown[] };
  const measure = (node: Node): number =>
    node.slots !== undefined
      ? 1 + Math.max(0, ...node.slots.map(measure))
      : node.leaves !== undefined
        ? 1
        : 0;
  // The map is its own root node.
  return measure(map as unknown as Node);
}

type Op = { kind: 'set'; key: number; value: number } | { kind: 'delete'; key: number };

// Hash functions that force every shape of trie: spread, shallow collisions, full collisions.
const hashers: Record<string, (key: number) => number> = {
  spread: (k) => Math.imul(k, 0x9e3779b1) >>> 0,
  identity: (k) => k >>> 0,
  fewBuckets: (k) => k % 3, // full 32-bit collisions: collision nodes
  sharedPrefix: (k) => ((k % 4) << 30) >>> 0, // long common paths of equal low bits
  collideDeep: (k) => (0x1f_ffff | ((k % 2) << 31)) >>> 0,
};

function applyOps(ops: Op[], hash: (k: number) => number) {
  let map = Hamt.empty<number>();
  const model = new Map<number, number>();
  const versions: Array<{ map: Hamt<number>; model: Map<number, number> }> = [];
  for (const op of ops) {
    if (op.kind === 'set') {
      map = map.set(new Leaf(hash(op.key), op.key, op.value));
      model.set(op.key, op.value);
    } else {
      map = map.delete(hash(op.key), op.key);
      model.delete(op.key);
    }
    versions.push({ map, model: new Map(model) });
  }
  return { map, model, versions };
}

function contents(map: Hamt<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const leaf of map.leaves()) {
    expect(out.has(leaf.id)).toBe(false); // no key appears twice
    out.set(leaf.id, leaf.payload);
  }
  return out;
}

const opArb = (maxKey: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.nat(maxKey), value: fc.integer() }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.nat(maxKey) }),
  );

describe('Hamt against a Map model', () => {
  for (const [name, hash] of Object.entries(hashers)) {
    it(`agrees with Map after any sequence of set/delete (${name} hashes)`, () => {
      fc.assert(
        fc.property(fc.array(opArb(200), { maxLength: 300 }), (ops) => {
          const { map, model } = applyOps(ops, hash);
          expect(map.size).toBe(model.size);
          expect(contents(map)).toEqual(model);
          for (let key = 0; key <= 200; key++) {
            expect(map.find(hash(key), key)?.payload).toBe(model.get(key));
          }
        }),
        { numRuns: 150 },
      );
    });

    it(`keeps every earlier version unchanged (${name} hashes)`, () => {
      fc.assert(
        fc.property(fc.array(opArb(60), { maxLength: 120 }), (ops) => {
          const { versions } = applyOps(ops, hash);
          for (const { map, model } of versions) {
            expect(map.size).toBe(model.size);
            expect(contents(map)).toEqual(model);
          }
        }),
        { numRuns: 100 },
      );
    });
  }

  it('deletes down to the shared empty map, whatever the insertion order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(5000), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(...Object.values(hashers)),
        fc.infiniteStream(fc.nat()),
        (keys, hash, seeds) => {
          let map = Hamt.empty<number>();
          for (const k of keys) map = map.set(new Leaf(hash(k), k, k * 2));
          expect(map.size).toBe(keys.length);
          const order = [...keys];
          const it = seeds[Symbol.iterator]();
          for (let i = order.length - 1; i > 0; i--) {
            const j = it.next().value % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          for (const [i, k] of order.entries()) {
            map = map.delete(hash(k), k);
            expect(map.size).toBe(order.length - i - 1);
            expect(map.find(hash(k), k)).toBeUndefined();
          }
          expect(map).toBe(Hamt.empty());
          expect([...map.leaves()]).toEqual([]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('returns the same map when deleting an absent key', () => {
    const map = Hamt.empty<number>().set(new Leaf(5, 1, 10));
    expect(map.delete(5, 2)).toBe(map);
    expect(map.delete(6, 1)).toBe(map);
    expect(Hamt.empty<number>().delete(1, 1)).toBe(Hamt.empty());
  });

  it('replacing a key keeps the size and the other keys', () => {
    const a = Hamt.empty<string>()
      .set(new Leaf(1, 1, 'a'))
      .set(new Leaf(1, 2, 'b')); // collision
    const b = a.set(new Leaf(1, 1, 'A'));
    expect(b.size).toBe(2);
    expect(b.find(1, 1)?.payload).toBe('A');
    expect(b.find(1, 2)?.payload).toBe('b');
    expect(a.find(1, 1)?.payload).toBe('a');
  });

  it('stays shallow: log32 depth for 10,000 spread keys', () => {
    let map = Hamt.empty<number>();
    for (let k = 1; k <= 10_000; k++) map = map.set(new Leaf(hashers.spread!(k), k, k));
    expect(map.size).toBe(10_000);
    expect(depth(map)).toBeLessThanOrEqual(4);
  });

  it('shares structure: an update copies one path, not the map', () => {
    let map = Hamt.empty<number>();
    for (let k = 1; k <= 1000; k++) map = map.set(new Leaf(hashers.spread!(k), k, k));
    const next = map.set(new Leaf(hashers.spread!(1), 1, -1));
    const before = new Set<unknown>(map.leaves());
    const shared = [...next.leaves()].filter((leaf) => before.has(leaf)).length;
    expect(shared).toBe(999);
  });
});
