import { fromUnits } from './units.js';

/**
 * Longest-prefix match over one rate card, with effective dates, in typed arrays.
 *
 * Prefixes are kept sorted byte-wise, each with a `parent`: the longest other prefix in the set
 * that is a prefix of it. For a dialled number, a binary search finds the greatest prefix ≤ the
 * number; every prefix of the number present in the set is that entry or one of its ancestors
 * (a prefix p of n satisfies p ≤ entry ≤ n, so p is also a prefix of the entry). Walking the
 * parent chain from there, longest first, the first prefix with a version in force at the call
 * time is the answer. A lookup allocates nothing: it returns a version slot number.
 *
 * Versions of one prefix sit together, oldest first; the newest version whose
 * [effective_from, effective_to) holds the time wins.
 */
export interface RateVersionInput {
  prefix: string;
  destination: string;
  rateUnits: number;
  connectionFeeUnits: number;
  initialIncrementSeconds: number;
  incrementSeconds: number;
  effectiveFromMs: number;
  /** Infinity when open-ended. */
  effectiveToMs: number;
  blocked: boolean;
}

export interface RateVersion {
  prefix: string;
  destination: string;
  rate: string;
  connectionFee: string;
  initialIncrementSeconds: number;
  incrementSeconds: number;
  effectiveFrom: Date;
  effectiveTo: Date | null;
  blocked: boolean;
}

export const NO_MATCH = -1;

function grow<T extends Float64Array | Int32Array | Uint8Array>(array: T, needed: number): T {
  if (needed <= array.length) return array;
  const next = new (array.constructor as new (length: number) => T)(Math.max(needed, array.length * 2));
  next.set(array);
  return next;
}

/**
 * Collects versions into growable typed columns (no object per version, and no string: a
 * version's prefix is kept as digit bytes), in any order; build() sorts only when they did not
 * arrive sorted (by prefix byte-wise, then effective_from).
 */
export class PrefixIndexBuilder {
  private count = 0;
  /** Prefix digits of every version, back to back; version v's end at digitEnd[v]. */
  private digitBytes = new Uint8Array(16 * 1024);
  private digitEnd = new Int32Array(1024);
  private fromMs = new Float64Array(1024);
  private toMs = new Float64Array(1024);
  private rateUnits = new Float64Array(1024);
  private feeUnits = new Float64Array(1024);
  private initial = new Int32Array(1024);
  private pulse = new Int32Array(1024);
  private blocked = new Uint8Array(1024);
  private destinationOf = new Int32Array(1024);
  // Destination names repeat across thousands of prefixes: store each once.
  private readonly destinationIds = new Map<string, number>();
  private readonly destinations: string[] = [];
  private sorted = true;
  private lastDestination: string | null = null;
  private lastDestinationId = 0;

  add(version: RateVersionInput): void {
    this.push(
      version.prefix,
      version.destination,
      version.rateUnits,
      version.connectionFeeUnits,
      version.initialIncrementSeconds,
      version.incrementSeconds,
      version.effectiveFromMs,
      version.effectiveToMs,
      version.blocked,
    );
  }

  /** add() without the object. `toMs` is Infinity when open-ended. */
  push(
    prefix: string,
    destination: string,
    rateUnits: number,
    feeUnits: number,
    initial: number,
    increment: number,
    fromMs: number,
    toMs: number,
    blocked: boolean,
  ): void {
    this.pushPrefixOf(prefix, 0, prefix.length, fromMs);
    this.pushValues(destination, rateUnits, feeUnits, initial, increment, fromMs, toMs, blocked);
  }

  /**
   * The loader's hot path, in two calls: the prefix as characters start..end of `text` (no
   * string made for it), then the version's values.
   */
  pushPrefixOf(text: string, start: number, end: number, fromMs: number): void {
    const v = this.count;
    if (v === this.fromMs.length) this.grow(v * 2);
    const from = v > 0 ? this.digitEnd[v - 1]! : 0;
    const length = end - start;
    if (from + length > this.digitBytes.length)
      this.digitBytes = grow(this.digitBytes, Math.max(from + length, this.digitBytes.length * 2));
    const bytes = this.digitBytes;
    for (let i = 0; i < length; i++) bytes[from + i] = text.charCodeAt(start + i);
    this.digitEnd[v] = from + length;
    if (v > 0 && this.sorted) {
      const order = this.compareSlots(v - 1, v);
      if (order > 0 || (order === 0 && this.fromMs[v - 1]! > fromMs)) this.sorted = false;
    }
  }

  /** The rest of the version whose prefix pushPrefixOf() just took. */
  pushValues(
    destination: string,
    rateUnits: number,
    feeUnits: number,
    initial: number,
    increment: number,
    fromMs: number,
    toMs: number,
    blocked: boolean,
  ): void {
    const v = this.count++;
    this.fromMs[v] = fromMs;
    this.toMs[v] = toMs;
    this.rateUnits[v] = rateUnits;
    this.feeUnits[v] = feeUnits;
    this.initial[v] = initial;
    this.pulse[v] = increment;
    this.blocked[v] = blocked ? 1 : 0;
    // Neighbouring rows mostly share the name: skip the map then.
    if (destination !== this.lastDestination) {
      let id = this.destinationIds.get(destination);
      if (id === undefined) {
        id = this.destinations.push(destination) - 1;
        this.destinationIds.set(destination, id);
      }
      this.lastDestination = destination;
      this.lastDestinationId = id;
    }
    this.destinationOf[v] = this.lastDestinationId;
  }

  private startOf(v: number): number {
    return v > 0 ? this.digitEnd[v - 1]! : 0;
  }

  /** Byte-wise order of two versions' prefixes (negative, 0, positive). */
  private compareSlots(a: number, b: number): number {
    const bytes = this.digitBytes;
    const aStart = this.startOf(a);
    const bStart = this.startOf(b);
    const aLength = this.digitEnd[a]! - aStart;
    const bLength = this.digitEnd[b]! - bStart;
    const shared = Math.min(aLength, bLength);
    for (let i = 0; i < shared; i++) {
      const difference = bytes[aStart + i]! - bytes[bStart + i]!;
      if (difference !== 0) return difference;
    }
    return aLength - bLength;
  }

  /** Whether version a's prefix is a prefix of version b's. */
  private startsSlot(b: number, a: number): boolean {
    const bytes = this.digitBytes;
    const aStart = this.startOf(a);
    const bStart = this.startOf(b);
    const aLength = this.digitEnd[a]! - aStart;
    if (aLength > this.digitEnd[b]! - bStart) return false;
    for (let i = 0; i < aLength; i++) if (bytes[aStart + i] !== bytes[bStart + i]) return false;
    return true;
  }

  private grow(length: number): void {
    this.digitEnd = grow(this.digitEnd, length);
    this.fromMs = grow(this.fromMs, length);
    this.toMs = grow(this.toMs, length);
    this.rateUnits = grow(this.rateUnits, length);
    this.feeUnits = grow(this.feeUnits, length);
    this.initial = grow(this.initial, length);
    this.pulse = grow(this.pulse, length);
    this.blocked = grow(this.blocked, length);
    this.destinationOf = grow(this.destinationOf, length);
  }

  get size(): number {
    return this.count;
  }

  build(): PrefixIndex {
    const count = this.count;
    const order = this.sorted ? null : this.sortedOrder();
    const at = (i: number) => (order ? order[i]! : i);
    const column = <T extends Float64Array | Int32Array | Uint8Array>(source: T): T => {
      if (!order) return source.slice(0, count) as T;
      const out = new (source.constructor as new (length: number) => T)(count);
      for (let i = 0; i < count; i++) out[i] = source[order[i]!]!;
      return out;
    };
    let digits = new Uint8Array(count * 8);
    const prefixStart = new Int32Array(count + 1);
    const parent = new Int32Array(count);
    const versionStart = new Int32Array(count + 1);
    const versionPrefix = new Int32Array(count);
    // Ancestors of the current prefix (as version slots), shortest first: the parent is the nearest one.
    const ancestors: number[] = [];
    const ancestorIds: number[] = [];
    let prefixes = 0;
    let digitCount = 0;
    let previous = -1;
    for (let v = 0; v < count; v++) {
      const slot = at(v);
      if (previous < 0 || this.compareSlots(previous, slot) !== 0) {
        while (ancestors.length && !this.startsSlot(slot, ancestors.at(-1)!)) {
          ancestors.pop();
          ancestorIds.pop();
        }
        parent[prefixes] = ancestorIds.length ? ancestorIds.at(-1)! : NO_MATCH;
        ancestors.push(slot);
        ancestorIds.push(prefixes);
        const start = this.startOf(slot);
        const length = this.digitEnd[slot]! - start;
        digits = grow(digits, digitCount + length);
        digits.set(this.digitBytes.subarray(start, start + length), digitCount);
        digitCount += length;
        versionStart[prefixes] = v;
        prefixes++;
        prefixStart[prefixes] = digitCount;
        previous = slot;
      }
      versionPrefix[v] = prefixes - 1;
    }
    versionStart[prefixes] = count;
    const prefixDigits = digits.slice(0, digitCount);
    const starts = prefixStart.slice(0, prefixes + 1);
    const versionStarts = versionStart.slice(0, prefixes + 1);
    return new PrefixIndex(
      PrefixHash.of(prefixDigits, starts, versionStarts),
      prefixDigits,
      starts,
      parent.slice(0, prefixes),
      versionStarts,
      versionPrefix,
      interleaved([this.fromMs, this.toMs, this.rateUnits, this.feeUnits], count, at),
      column(this.initial),
      column(this.pulse),
      column(this.blocked),
      column(this.destinationOf),
      this.destinations.slice(),
    );
  }

  /** Slot order by prefix (byte-wise), then effective_from. */
  private sortedOrder(): Int32Array {
    const fromMs = this.fromMs;
    const bytes = this.digitBytes;
    return prefixOrder(
      this.count,
      (slot) => {
        const start = this.startOf(slot);
        const end = this.digitEnd[slot]!;
        let key = 0;
        for (let d = 0; d < 9; d++) key = key * 10 + (start + d < end ? bytes[start + d]! - 48 : 0);
        return key;
      },
      (a, b) => this.compareSlots(a, b) || fromMs[a]! - fromMs[b]!,
    );
  }
}

/**
 * Slot order by prefix (byte-wise), then effective_from: the order of the in-memory index and of
 * the `(ratecard_id, prefix, effective_from)` key of `rates`. `leadingDigits(slot)` is the
 * prefix's first 9 digits, padded on the right with zeros: a number that orders like the text.
 * With the slot number in the low 23 bits it is one float64 (exact below 2^53), and a
 * Float64Array sorts natively, with no comparator call. Runs of equal 9-digit keys ("1" and
 * "10", longer prefixes, versions of one prefix) are then put in order by `compare` (the full
 * order: prefix texts, then dates).
 */
export function prefixOrder(
  count: number,
  leadingDigits: (slot: number) => number,
  compare: (a: number, b: number) => number,
): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (count > SLOT_BITS_LIMIT) return order.sort(compare);
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = leadingDigits(i) * SLOT_BITS_LIMIT + i;
  keys.sort();
  for (let i = 0; i < count; i++) order[i] = keys[i]! % SLOT_BITS_LIMIT;
  for (let start = 0; start < count; ) {
    const key = Math.floor(keys[start]! / SLOT_BITS_LIMIT);
    let end = start + 1;
    while (end < count && Math.floor(keys[end]! / SLOT_BITS_LIMIT) === key) end++;
    if (end - start > 1) order.subarray(start, end).sort(compare);
    start = end;
  }
  return order;
}

/** Slots per card the one-float sort key has room for (2^23); bigger cards sort by comparator. */
const SLOT_BITS_LIMIT = 1 << 23;

/**
 * A version's effective window and prices, side by side: [from, to, rate units, fee units] per
 * version, 32 bytes, so a match that finds the version in force has its price in the same cache
 * line (VERSION_* are the offsets).
 */
const VERSION_STRIDE = 4;
const VERSION_FROM = 0;
const VERSION_TO = 1;
const VERSION_RATE = 2;
const VERSION_FEE = 3;

/** The versions' blocks, in index order: version v is slot `slotOf(v)` of each builder column. */
function interleaved(
  columns: readonly Float64Array[],
  count: number,
  slotOf: (v: number) => number,
): Float64Array {
  const out = new Float64Array(count * VERSION_STRIDE);
  columns.forEach((column, offset) => {
    for (let v = 0; v < count; v++) out[v * VERSION_STRIDE + offset] = column[slotOf(v)]!;
  });
  return out;
}

const hashOf = (high: number, low: number, length: number, mask: number) =>
  (Math.imul(high, 0x9e3779b1) ^ Math.imul(low + (length << 27), 0x85ebca6b) ^ length) & mask;

/** PrefixHash.heads: by a number's first 6 digits (a million heads, 4 MB), for cards of 65,536+ prefixes. */
const HEAD_DIGITS = 6;
const HEAD_COUNT = 10 ** HEAD_DIGITS;
const HEADS_FROM_PREFIXES = 1 << 16;

// The leading digits of the number being matched, as a prefix key per length (match() is synchronous).
const numberHigh = new Int32Array(17);
const numberLow = new Int32Array(17);

/** PrefixHash's slot: four int32s (SLOT_STRIDE), at these offsets. */
const SLOT_STRIDE = 4;
const SLOT_HIGH = 0;
const SLOT_LOW = 1;
/** The prefix's length in digits (low 5 bits) and its number of versions (the other 26 bits). */
const SLOT_LENGTH_AND_COUNT = 2;
/** The prefix's first version + 1 (0: an empty slot). */
const SLOT_FIRST_VERSION = 3;
const LENGTH_BITS = 5;
const LENGTH_MASK = (1 << LENGTH_BITS) - 1;
const MAX_VERSIONS_PER_PREFIX = 2 ** (31 - LENGTH_BITS) - 1;

/**
 * Every prefix of a card by its digits: an open-addressing table (linear probing, at most half
 * full) keyed by the prefix's first 8 digits as a number, the rest (up to 8 more) as a number,
 * and its length (so "1" and "01" differ). A lookup probes once per prefix length present in the
 * card, longest first, instead of a binary search over a million prefixes whose ~20 steps each
 * touch another part of memory.
 *
 * A slot is four int32s side by side (SLOT_*): the key, and the prefix's versions (first slot and
 * count), so a probe reads one 16-byte block, one cache line, and goes straight to the versions.
 * In separate columns it was up to five lines (key parts, prefix id, then where its versions
 * start), each a cache miss on a big card.
 *
 * A big card also keeps `heads`: for each number's first HEAD_DIGITS digits, the prefix lengths
 * worth probing. Each probe of a big card is a cache miss (and, on a virtual machine, often a
 * TLB miss too), and most probes find nothing: a number has one candidate prefix per length but
 * a card of 400,000 prefixes has few of them, so least-cost routing over eight such cards spent
 * ~48 probes per number where ~12 find something (decision 0032).
 */
class PrefixHash {
  private constructor(
    private readonly slots: Int32Array,
    /** Bit L set: some prefix has L digits. */
    readonly lengths: number,
    readonly longest: number,
    /**
     * By the value of a number's first HEAD_DIGITS digits, bit L set where a prefix of L digits
     * may match it: for L ≤ HEAD_DIGITS, those first L digits are a prefix; for longer L, some
     * prefix of L digits starts with them. Null for a card below HEADS_FROM_PREFIXES.
     */
    readonly heads: Uint32Array | null,
  ) {}

  static of(digits: Uint8Array, starts: Int32Array, versionStart: Int32Array): PrefixHash {
    const count = starts.length - 1;
    let size = 16;
    while (size < count * 2) size *= 2;
    const slots = new Int32Array(size * SLOT_STRIDE);
    const mask = size - 1;
    let lengths = 0;
    let longest = 0;
    const heads = count >= HEADS_FROM_PREFIXES ? new Uint32Array(HEAD_COUNT) : null;
    for (let p = 0; p < count; p++) {
      const start = starts[p]!;
      const digitCount = starts[p + 1]! - start;
      let h = 0;
      let l = 0;
      let head = 0;
      for (let i = 0; i < digitCount; i++) {
        const d = digits[start + i]! - 48;
        if (i < 8) h = h * 10 + d;
        else l = l * 10 + d;
        if (i < HEAD_DIGITS) head = head * 10 + d;
      }
      if (heads) PrefixHash.markHeads(heads, head, digitCount);
      let slot = hashOf(h, l, digitCount, mask);
      while (slots[slot * SLOT_STRIDE + SLOT_FIRST_VERSION] !== 0) slot = (slot + 1) & mask;
      const at = slot * SLOT_STRIDE;
      slots[at + SLOT_HIGH] = h;
      slots[at + SLOT_LOW] = l;
      const versions = versionStart[p + 1]! - versionStart[p]!;
      // Far beyond any real deck (67 million versions of one prefix), but a count that did not fit
      // would silently hide versions: refuse to build instead.
      if (versions > MAX_VERSIONS_PER_PREFIX) {
        throw new RangeError(
          `A prefix has ${versions} versions; the index holds at most ${MAX_VERSIONS_PER_PREFIX}`,
        );
      }
      slots[at + SLOT_LENGTH_AND_COUNT] = digitCount | (versions << LENGTH_BITS);
      slots[at + SLOT_FIRST_VERSION] = versionStart[p]! + 1;
      lengths |= 1 << digitCount;
      if (digitCount > longest) longest = digitCount;
    }
    return new PrefixHash(slots, lengths, longest, heads);
  }

  /** Marks a prefix of `digitCount` digits whose first HEAD_DIGITS (or fewer) are `head`. */
  private static markHeads(heads: Uint32Array, head: number, digitCount: number): void {
    const bit = 1 << digitCount;
    if (digitCount > HEAD_DIGITS) {
      heads[head] = heads[head]! | bit;
      return;
    }
    // Every head that starts with this short prefix.
    const span = 10 ** (HEAD_DIGITS - digitCount);
    for (let at = head * span; at < (head + 1) * span; at++) heads[at] = heads[at]! | bit;
  }

  get byteLength(): number {
    const heads = this.heads ? this.heads.byteLength : 0;
    return this.slots.byteLength + heads;
  }

  /** Bit L set: the lengths worth probing for the number keysOf() prepared, `digits` long. */
  candidateLengths(digits: number): number {
    if (this.heads === null || digits < HEAD_DIGITS) return this.lengths;
    return this.heads[numberHigh[HEAD_DIGITS]!]!;
  }

  /**
   * Prepares numberHigh/numberLow for `number` and returns how many leading characters are
   * digits (capped at the longest prefix): the longest prefix of it that can match.
   */
  static keysOf(number: string, longest: number): number {
    const limit = Math.min(number.length, longest);
    let high = 0;
    let low = 0;
    for (let i = 0; i < limit; i++) {
      const d = number.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return i;
      if (i < 8) high = high * 10 + d;
      else low = low * 10 + d;
      numberHigh[i + 1] = high;
      numberLow[i + 1] = low;
    }
    return limit;
  }

  /**
   * Where the slot of the number's first `length` digits (after keysOf) starts in `slots`, or
   * NO_MATCH: firstVersion() and versionCount() read its versions.
   */
  find(length: number): number {
    const high = numberHigh[length]!;
    const low = numberLow[length]!;
    const slots = this.slots;
    const mask = slots.length / SLOT_STRIDE - 1;
    for (let slot = hashOf(high, low, length, mask); ; slot = (slot + 1) & mask) {
      const at = slot * SLOT_STRIDE;
      if (slots[at + SLOT_FIRST_VERSION] === 0) return NO_MATCH;
      if (
        slots[at + SLOT_HIGH] === high &&
        slots[at + SLOT_LOW] === low &&
        (slots[at + SLOT_LENGTH_AND_COUNT]! & LENGTH_MASK) === length
      ) {
        return at;
      }
    }
  }

  firstVersion(at: number): number {
    return this.slots[at + SLOT_FIRST_VERSION]! - 1;
  }

  versionCount(at: number): number {
    return this.slots[at + SLOT_LENGTH_AND_COUNT]! >>> LENGTH_BITS;
  }
}

export class PrefixIndex {
  /** Made by PrefixIndexBuilder.build(). */
  constructor(
    private readonly hash: PrefixHash,
    private readonly digits: Uint8Array,
    private readonly prefixStart: Int32Array,
    private readonly parent: Int32Array,
    private readonly versionStart: Int32Array,
    private readonly versionPrefix: Int32Array,
    /** Per version [from, to, rate units, fee units]: VERSION_STRIDE. */
    private readonly versions: Float64Array,
    private readonly initial: Int32Array,
    private readonly pulse: Int32Array,
    private readonly blocked: Uint8Array,
    private readonly destinationOf: Int32Array,
    private readonly destinations: string[],
  ) {}

  static empty(): PrefixIndex {
    return new PrefixIndexBuilder().build();
  }

  get prefixCount(): number {
    return this.parent.length;
  }

  get versionCount(): number {
    return this.versions.length / VERSION_STRIDE;
  }

  /** Bytes held by the typed arrays plus a rough figure for the destination names. */
  get approximateBytes(): number {
    const arrays: ArrayBufferView[] = [
      this.digits,
      this.prefixStart,
      this.parent,
      this.versionStart,
      this.versionPrefix,
      this.versions,
      this.initial,
      this.pulse,
      this.blocked,
      this.destinationOf,
    ];
    const bytes = arrays.reduce((sum, array) => sum + array.byteLength, 0) + this.hash.byteLength;
    const names = this.destinations.reduce((sum, name) => sum + 32 + name.length * 2, 0);
    return bytes + names;
  }

  /**
   * The version slot of the longest prefix of `number` (digits only) with a version in force at
   * `atMs`, or NO_MATCH. Blocked versions match: a blocked destination is an answer, not a gap.
   */
  match(number: string, atMs: number): number {
    const hash = this.hash;
    const digits = PrefixHash.keysOf(number, hash.longest);
    const lengths = hash.candidateLengths(digits);
    for (let length = digits; length > 0; length--) {
      if ((lengths & (1 << length)) === 0) continue;
      const slot = hash.find(length);
      if (slot === NO_MATCH) continue;
      const version = this.versionAt(hash.firstVersion(slot), hash.versionCount(slot), atMs);
      if (version !== NO_MATCH) return version;
    }
    return NO_MATCH;
  }

  /** The newest of a prefix's versions (first..first+count, oldest first) in force at atMs. */
  private versionAt(first: number, count: number, atMs: number): number {
    const versions = this.versions;
    for (let v = first + count - 1; v >= first; v--) {
      const at = v * VERSION_STRIDE;
      if (versions[at + VERSION_FROM]! <= atMs && atMs < versions[at + VERSION_TO]!) return v;
    }
    return NO_MATCH;
  }

  private fromOf(version: number): number {
    return this.versions[version * VERSION_STRIDE + VERSION_FROM]!;
  }

  private toOf(version: number): number {
    return this.versions[version * VERSION_STRIDE + VERSION_TO]!;
  }

  /** Binary search for the last prefix ≤ number in byte order. */
  private greatestAtMost(number: string): number {
    let low = 0;
    let high = this.parent.length - 1;
    let found = NO_MATCH;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.compare(middle, number) <= 0) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found;
  }

  private compare(prefix: number, number: string): number {
    const start = this.prefixStart[prefix]!;
    const length = this.prefixStart[prefix + 1]! - start;
    const shared = Math.min(length, number.length);
    for (let i = 0; i < shared; i++) {
      const difference = this.digits[start + i]! - number.charCodeAt(i);
      if (difference !== 0) return difference;
    }
    return length - number.length;
  }

  private commonLength(prefix: number, number: string): number {
    const start = this.prefixStart[prefix]!;
    const length = Math.min(this.prefixStart[prefix + 1]! - start, number.length);
    let i = 0;
    while (i < length && this.digits[start + i] === number.charCodeAt(i)) i++;
    return i;
  }

  prefixOf(version: number): string {
    return this.prefixText(this.versionPrefix[version]!);
  }

  /** The text of the prefix in slot `prefix` (0 ≤ prefix < prefixCount, in byte order). */
  prefixText(prefix: number): string {
    let text = '';
    for (let i = this.prefixStart[prefix]!; i < this.prefixStart[prefix + 1]!; i++) {
      text += String.fromCharCode(this.digits[i]!);
    }
    return text;
  }

  /**
   * Appends to `out` every effective_from and finite effective_to of every version of every
   * prefix of `number` in this card: the times at which a match for `number` can change.
   */
  collectBoundaries(number: string, out: number[]): void {
    const entry = this.greatestAtMost(number);
    if (entry === NO_MATCH) return;
    const common = this.commonLength(entry, number);
    for (let candidate = entry; candidate !== NO_MATCH; candidate = this.parent[candidate]!) {
      if (this.prefixStart[candidate + 1]! - this.prefixStart[candidate]! > common) continue;
      for (let v = this.versionStart[candidate]!; v < this.versionStart[candidate + 1]!; v++) {
        out.push(this.fromOf(v));
        if (Number.isFinite(this.toOf(v))) out.push(this.toOf(v));
      }
    }
  }

  /** Allocation-free accessors for the hot paths (LCR compares costs in units). */
  rateUnitsOf(version: number): number {
    return this.versions[version * VERSION_STRIDE + VERSION_RATE]!;
  }

  isBlocked(version: number): boolean {
    return this.blocked[version] === 1;
  }

  feeUnitsOf(version: number): number {
    return this.versions[version * VERSION_STRIDE + VERSION_FEE]!;
  }

  initialIncrementOf(version: number): number {
    return this.initial[version]!;
  }

  incrementOf(version: number): number {
    return this.pulse[version]!;
  }

  destinationName(version: number): string {
    return this.destinations[this.destinationOf[version]!]!;
  }

  /** The version as a plain object, for answers (allocates; not for inner loops). */
  version(version: number): RateVersion {
    const to = this.toOf(version);
    return {
      prefix: this.prefixOf(version),
      destination: this.destinations[this.destinationOf[version]!]!,
      rate: fromUnits(this.rateUnitsOf(version)),
      connectionFee: fromUnits(this.feeUnitsOf(version)),
      initialIncrementSeconds: this.initial[version]!,
      incrementSeconds: this.pulse[version]!,
      effectiveFrom: new Date(this.fromOf(version)),
      effectiveTo: Number.isFinite(to) ? new Date(to) : null,
      blocked: this.blocked[version] === 1,
    };
  }
}
