/**
 * A persistent hash array mapped trie (Bagwell's HAMT, as CPython's `hamt.c` uses
 * for contexts): 32-way bitmap nodes, collision nodes for equal 32-bit hashes,
 * structural sharing between versions. Every update returns a new map and leaves
 * the old one untouched, so a snapshot is just a reference (O(1)) and an update
 * copies one path of at most seven nodes (O(log32 n)).
 *
 * Keys are identified by a numeric `id` and placed by a 32-bit `hash`; the trie
 * never holds the key object itself, so it can index objects without keeping
 * them alive. Callers create the {@link Leaf} themselves: a leaf is a unique
 * object per update, which the core uses as a weak key for the stored value.
 *
 * @module
 */

const LEAF = 0;
const BITMAP = 1;
const COLLISION = 2;

const BITS = 5;
const MASK = 31;

/** One entry of the trie. Immutable once inserted. */
export class Leaf<P> {
  /** @internal */ readonly kind = LEAF;
  constructor(
    /** 32-bit placement hash (a signed 32-bit integer: only its bits count). */
    readonly hash: number,
    /** Identity of the key; two leaves with the same id are the same key. */
    readonly id: number,
    /** What the caller stores under the key. */
    readonly payload: P,
    /** A second free slot for the caller (the core keeps primitive values here). */
    readonly value: unknown = undefined,
  ) {}
}

class BitmapNode<P> {
  readonly kind = BITMAP;
  constructor(
    readonly bitmap: number,
    readonly slots: ReadonlyArray<Child<P>>,
  ) {}
}

class CollisionNode<P> {
  readonly kind = COLLISION;
  constructor(
    readonly hash: number,
    readonly leaves: ReadonlyArray<Leaf<P>>,
  ) {}
}

type Child<P> = Leaf<P> | BitmapNode<P> | CollisionNode<P>;
type Node<P> = BitmapNode<P> | CollisionNode<P>;

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

function withSlot<P>(slots: ReadonlyArray<Child<P>>, index: number, child: Child<P>): Child<P>[] {
  const copy = slots.slice();
  copy[index] = child;
  return copy;
}

function insertSlot<P>(slots: ReadonlyArray<Child<P>>, index: number, child: Child<P>): Child<P>[] {
  const copy = new Array<Child<P>>(slots.length + 1);
  for (let i = 0; i < index; i++) copy[i] = slots[i]!;
  copy[index] = child;
  for (let i = index; i < slots.length; i++) copy[i + 1] = slots[i]!;
  return copy;
}

function removeSlot<P>(slots: ReadonlyArray<Child<P>>, index: number): Child<P>[] {
  const copy = new Array<Child<P>>(slots.length - 1);
  for (let i = 0; i < index; i++) copy[i] = slots[i]!;
  for (let i = index + 1; i < slots.length; i++) copy[i - 1] = slots[i]!;
  return copy;
}

/** A node holding two leaves with different keys, split as deep as their hashes require. */
function pair<P>(shift: number, a: Leaf<P>, b: Leaf<P>): Node<P> {
  if (a.hash === b.hash) return new CollisionNode(a.hash, [a, b]);
  const ia = (a.hash >>> shift) & MASK;
  const ib = (b.hash >>> shift) & MASK;
  if (ia === ib) return new BitmapNode(1 << ia, [pair(shift + BITS, a, b)]);
  return new BitmapNode((1 << ia) | (1 << ib), ia < ib ? [a, b] : [b, a]);
}

// `added` reports whether the key was new, so the map can keep its size; `replaced`
// is the leaf the last `set` replaced, so a caller needs no lookup before it.
let added = false;
let replaced: Leaf<unknown> | undefined;

function assoc<P>(node: Node<P>, shift: number, leaf: Leaf<P>): Node<P> {
  if (node.kind === COLLISION) {
    if (node.hash === leaf.hash) {
      const leaves = node.leaves;
      for (let i = 0; i < leaves.length; i++) {
        if (leaves[i]!.id === leaf.id) {
          replaced = leaves[i];
          const copy = leaves.slice();
          copy[i] = leaf;
          return new CollisionNode(node.hash, copy);
        }
      }
      added = true;
      return new CollisionNode(node.hash, [...leaves, leaf]);
    }
    // A different hash under a collision node: push the collision one level down.
    added = true;
    const wrapped = new BitmapNode<P>(1 << ((node.hash >>> shift) & MASK), [node]);
    return assoc(wrapped, shift, leaf);
  }
  const bit = 1 << ((leaf.hash >>> shift) & MASK);
  const index = popcount(node.bitmap & (bit - 1));
  if ((node.bitmap & bit) === 0) {
    added = true;
    return new BitmapNode(node.bitmap | bit, insertSlot(node.slots, index, leaf));
  }
  const child = node.slots[index]!;
  if (child.kind === LEAF) {
    if (child.id === leaf.id) {
      replaced = child;
      return new BitmapNode(node.bitmap, withSlot(node.slots, index, leaf));
    }
    added = true;
    return new BitmapNode(
      node.bitmap,
      withSlot(node.slots, index, pair(shift + BITS, child, leaf)),
    );
  }
  return new BitmapNode(node.bitmap, withSlot(node.slots, index, assoc(child, shift + BITS, leaf)));
}

// Sentinel results of `dissoc`: the key was absent, or the node became empty.
const UNCHANGED = null;
const EMPTY = undefined;

function dissoc<P>(
  node: Node<P>,
  shift: number,
  hash: number,
  id: number,
): Child<P> | typeof UNCHANGED | typeof EMPTY {
  if (node.kind === COLLISION) {
    if (node.hash !== hash) return UNCHANGED;
    const leaves = node.leaves;
    for (let i = 0; i < leaves.length; i++) {
      if (leaves[i]!.id !== id) continue;
      if (leaves.length === 2) return leaves[1 - i]!; // collapse to the remaining leaf
      const copy = leaves.slice();
      copy.splice(i, 1);
      return new CollisionNode(node.hash, copy);
    }
    return UNCHANGED;
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  if ((node.bitmap & bit) === 0) return UNCHANGED;
  const index = popcount(node.bitmap & (bit - 1));
  const child = node.slots[index]!;
  let replacement: Child<P> | typeof EMPTY;
  if (child.kind === LEAF) {
    if (child.id !== id) return UNCHANGED;
    replacement = EMPTY;
  } else {
    const result = dissoc(child, shift + BITS, hash, id);
    if (result === UNCHANGED) return UNCHANGED;
    replacement = result;
  }
  if (replacement === EMPTY) {
    if (node.slots.length === 1) return EMPTY;
    const slots = removeSlot(node.slots, index);
    // A sub-node left with one leaf folds into its parent: the trie stays canonical.
    if (slots.length === 1 && slots[0]!.kind === LEAF && shift > 0) return slots[0]!;
    return new BitmapNode(node.bitmap & ~bit, slots);
  }
  if (replacement.kind === LEAF && node.slots.length === 1 && shift > 0) return replacement;
  return new BitmapNode(node.bitmap, withSlot(node.slots, index, replacement));
}

function* walk<P>(node: Child<P>): Generator<Leaf<P>> {
  if (node.kind === LEAF) {
    yield node;
  } else if (node.kind === COLLISION) {
    yield* node.leaves;
  } else {
    for (const child of node.slots) yield* walk(child);
  }
}

/**
 * An immutable map from numeric key ids to leaves. `set` and `delete` return a new
 * map; every earlier version stays valid and unchanged.
 */
export class Hamt<P> {
  private static readonly emptyMap = new Hamt<never>(0, [], 0);

  /** The empty map (one shared instance). */
  static empty<P>(): Hamt<P> {
    return Hamt.emptyMap as Hamt<P>;
  }

  // The map is its own root node: one object fewer per update and per lookup.
  private constructor(
    private readonly bitmap: number,
    private readonly slots: ReadonlyArray<Child<P>>,
    /** Number of keys, collected or not: the trie does not know about liveness. */
    readonly size: number,
  ) {}

  private static rooted<P>(root: BitmapNode<P>, size: number): Hamt<P> {
    return new Hamt(root.bitmap, root.slots, size);
  }

  /** The root as a node, for the recursive paths. */
  private root(): BitmapNode<P> {
    return new BitmapNode(this.bitmap, this.slots);
  }

  /** The leaf stored for `id`, or `undefined`. Does not allocate. */
  find(hash: number, id: number): Leaf<P> | undefined {
    const bit = 1 << (hash & MASK);
    if ((this.bitmap & bit) === 0) return undefined;
    let child: Child<P> = this.slots[popcount(this.bitmap & (bit - 1))]!;
    let shift = 0;
    for (;;) {
      if (child.kind === LEAF) return child.id === id ? child : undefined;
      if (child.kind === COLLISION) {
        if (child.hash !== hash) return undefined;
        for (const leaf of child.leaves) if (leaf.id === id) return leaf;
        return undefined;
      }
      shift += BITS;
      const below = 1 << ((hash >>> shift) & MASK);
      if ((child.bitmap & below) === 0) return undefined;
      child = child.slots[popcount(child.bitmap & (below - 1))]!;
    }
  }

  /** A new map in which `leaf` is stored under `leaf.id` (replacing any earlier leaf). */
  set(leaf: Leaf<P>): Hamt<P> {
    // The first level inline: a Context rarely holds more than a few vars, so most
    // sets add or replace a leaf in the root, without a call to assoc.
    const bit = 1 << (leaf.hash & MASK);
    const index = popcount(this.bitmap & (bit - 1));
    if ((this.bitmap & bit) === 0) {
      replaced = undefined;
      return new Hamt(this.bitmap | bit, insertSlot(this.slots, index, leaf), this.size + 1);
    }
    const child = this.slots[index]!;
    if (child.kind === LEAF && child.id === leaf.id) {
      replaced = child;
      return new Hamt(this.bitmap, withSlot(this.slots, index, leaf), this.size);
    }
    added = false;
    replaced = undefined;
    const root = assoc(this.root(), 0, leaf) as BitmapNode<P>;
    return Hamt.rooted(root, added ? this.size + 1 : this.size);
  }

  /**
   * The leaf that the latest `set` (on any map) replaced, or `undefined` if its key
   * was new. Read it right after the `set`; reading forgets it, so the map module
   * never keeps a replaced value alive.
   */
  static takeReplaced<P>(): Leaf<P> | undefined {
    const leaf = replaced;
    replaced = undefined;
    return leaf as Leaf<P> | undefined;
  }

  /** A new map without `id`; `this` when the key is absent. */
  delete(hash: number, id: number): Hamt<P> {
    const result = dissoc(this.root(), 0, hash, id);
    if (result === UNCHANGED) return this;
    if (result === EMPTY) return Hamt.empty();
    // At the root a lone leaf still needs its bitmap.
    if (result.kind !== BITMAP) return new Hamt(1 << (result.hash & MASK), [result], this.size - 1);
    return Hamt.rooted(result, this.size - 1);
  }

  /** Every leaf, in trie order (stable for a given version). */
  leaves(): IterableIterator<Leaf<P>> {
    return walk(this.root());
  }
}
