// A pickle writer for JSON-shaped values (protocol 2, no memo), enough to write the call of an
// RQ job — `(func_name, None, args, kwargs)`, what RQ's Job pickles as its `data` — from a
// schedule's JSON args. JSON does not tell 2 from 2.0: a whole number (within ±2^53) becomes a
// Python int, any other number a float.
// Never reads a pickle (reading one runs code); see pickleStrings.ts for the opcode scan.

const PROTO = 0x80;
const STOP = 0x2e; // .
const NONE = 0x4e; // N
const NEWTRUE = 0x88;
const NEWFALSE = 0x89;
const BININT = 0x4a; // J: 4-byte signed little-endian
const LONG1 = 0x8a; // n bytes of a two's complement integer, little-endian
const BINFLOAT = 0x47; // G: 8-byte big-endian double
const BINUNICODE = 0x58; // X: 4-byte length, UTF-8
const MARK = 0x28; // (
const TUPLE = 0x74; // t
const EMPTY_LIST = 0x5d; // ]
const APPENDS = 0x65; // e
const EMPTY_DICT = 0x7d; // }
const SETITEMS = 0x75; // u

/** The bytes of an integer in LONG1: little-endian two's complement, as short as its sign allows. */
function long1(n: bigint): number[] {
  const bytes: number[] = [];
  let v = n;
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.push(byte);
    v >>= 8n;
    // Done when what is left is the sign extension of the last byte written.
    if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) return bytes;
  }
}

class Writer {
  private readonly parts: Buffer[] = [];

  bytes(...b: number[]): void {
    this.parts.push(Buffer.from(b));
  }

  value(v: unknown, depth: number): void {
    if (depth > 100) throw new Error('a value nested more than 100 deep cannot be pickled here');
    if (v === null || v === undefined) return this.bytes(NONE);
    if (v === true) return this.bytes(NEWTRUE);
    if (v === false) return this.bytes(NEWFALSE);
    if (typeof v === 'number') return this.number(v);
    if (typeof v === 'string') return this.string(v);
    if (Array.isArray(v)) {
      this.bytes(EMPTY_LIST);
      if (!v.length) return;
      this.bytes(MARK);
      for (const x of v) this.value(x, depth + 1);
      return this.bytes(APPENDS);
    }
    if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      this.bytes(EMPTY_DICT);
      if (!entries.length) return;
      this.bytes(MARK);
      for (const [k, x] of entries) {
        this.string(k);
        this.value(x, depth + 1);
      }
      return this.bytes(SETITEMS);
    }
    throw new Error(`a ${typeof v} cannot be pickled here (JSON values only)`);
  }

  private number(n: number): void {
    if (!Number.isFinite(n)) throw new Error(`${n} is not a JSON number`);
    // Past 2^53 a JavaScript number is no exact integer any more (1e300 among them): a float.
    if (!Number.isSafeInteger(n)) {
      const b = Buffer.alloc(9);
      b[0] = BINFLOAT;
      b.writeDoubleBE(n, 1);
      return void this.parts.push(b);
    }
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(5);
      b[0] = BININT;
      b.writeInt32LE(n, 1);
      return void this.parts.push(b);
    }
    const bytes = long1(BigInt(n));
    this.bytes(LONG1, bytes.length, ...bytes);
  }

  string(s: string): void {
    const utf8 = Buffer.from(s, 'utf8');
    const head = Buffer.alloc(5);
    head[0] = BINUNICODE;
    head.writeUInt32LE(utf8.length, 1);
    this.parts.push(head, utf8);
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A pickle (protocol 2) of a tuple of JSON-shaped values. */
export function pickleTuple(items: readonly unknown[]): Buffer {
  const w = new Writer();
  w.bytes(PROTO, 2, MARK);
  for (const item of items) w.value(item, 0);
  w.bytes(TUPLE, STOP);
  return w.done();
}

/** What RQ's Job pickles as its call: `(func_name, instance, args, kwargs)`, no instance. */
export const pickleRqCall = (funcName: string, args: readonly unknown[], kwargs: Record<string, unknown>): Buffer => pickleTuple([funcName, null, args, kwargs]);
