// Reads the text strings at the start of a pickle WITHOUT unpickling it: a walk over the opcode
// stream that builds no objects, resolves no globals and calls nothing, so an untrusted pickle
// cannot run code here. Enough to find a task's name in RQ's, Huey's and arq's pickled messages.
// Stops (returning what it has) at the first opcode it does not know or at the end of the data.
// A string pickled twice is written once and then referenced from the memo (arq's function `f`
// is the memo's copy of its dict key 'f'): references to memoized strings are read as the string.

/** Opcodes with a fixed-size argument (bytes to skip) and no text. */
const FIXED: Record<number, number> = {
  0x80: 1, // PROTO
  0x95: 8, // FRAME
  0x28: 0, // MARK
  0x94: 0, // MEMOIZE
  0x93: 0, // STACK_GLOBAL
  0x4e: 0, // NONE
  0x88: 0, // NEWTRUE
  0x89: 0, // NEWFALSE
  0x4b: 1, // BININT1
  0x4d: 2, // BININT2
  0x4a: 4, // BININT
  0x47: 8, // BINFLOAT
  0x29: 0, // EMPTY_TUPLE
  0x5d: 0, // EMPTY_LIST
  0x7d: 0, // EMPTY_DICT
  0x8f: 0, // EMPTY_SET
  0x85: 0, // TUPLE1
  0x86: 0, // TUPLE2
  0x87: 0, // TUPLE3
  0x74: 0, // TUPLE
  0x61: 0, // APPEND
  0x65: 0, // APPENDS
  0x73: 0, // SETITEM
  0x75: 0, // SETITEMS
  0x81: 0, // NEWOBJ
  0x52: 0, // REDUCE
  0x62: 0, // BUILD
};

/**
 * The first `max` text strings of a pickle, in stream order (GLOBAL's module and name count as
 * two; a memo reference to a string counts as that string again).
 */
export function pickleStrings(data: Buffer, max: number): string[] {
  const out: string[] = [];
  // The memo's strings by index; `last` is the string just pushed (null after any other opcode).
  const memo = new Map<number, string>();
  let memoized = 0;
  let last: string | null = null;
  let i = 0;
  const text = (len: number, at: number) => {
    if (at + len > data.length) return false;
    last = data.toString('utf8', at, at + len);
    out.push(last);
    i = at + len;
    return true;
  };
  const put = (index: number) => { if (last !== null) memo.set(index, last); };
  const get = (index: number) => {
    const s = memo.get(index);
    if (s !== undefined) out.push(s);
    last = s ?? null;
  };
  while (i < data.length && out.length < max) {
    const op = data[i++]!;
    if (op === 0x2e) break; // STOP
    if (op === 0x94) { put(memoized++); continue; } // MEMOIZE (keeps `last`: it still is the top of the stack)
    if (op === 0x71) { if (i >= data.length) break; put(data[i]!); i += 1; continue; } // BINPUT
    if (op === 0x72) { if (i + 4 > data.length) break; put(data.readUInt32LE(i)); i += 4; continue; } // LONG_BINPUT
    if (op === 0x68) { if (i >= data.length) break; get(data[i]!); i += 1; continue; } // BINGET
    if (op === 0x6a) { if (i + 4 > data.length) break; get(data.readUInt32LE(i)); i += 4; continue; } // LONG_BINGET
    last = null;
    if (op in FIXED) { i += FIXED[op]!; continue; }
    if (op === 0x8c) { if (i >= data.length || !text(data[i]!, i + 1)) break; continue; } // SHORT_BINUNICODE
    if (op === 0x58) { if (i + 4 > data.length || !text(data.readUInt32LE(i), i + 4)) break; continue; } // BINUNICODE
    if (op === 0x8d) { if (i + 8 > data.length || !text(Number(data.readBigUInt64LE(i)), i + 8)) break; continue; } // BINUNICODE8
    if (op === 0x43) { if (i >= data.length) break; i += 1 + data[i]!; continue; } // SHORT_BINBYTES
    if (op === 0x42) { if (i + 4 > data.length) break; i += 4 + data.readUInt32LE(i); continue; } // BINBYTES
    if (op === 0x8a) { if (i >= data.length) break; i += 1 + data[i]!; continue; } // LONG1
    if (op === 0x63) { // GLOBAL "module\nname\n"
      for (let k = 0; k < 2; k++) {
        const nl = data.indexOf(0x0a, i);
        if (nl < 0) return out;
        out.push(data.toString('utf8', i, nl));
        i = nl + 1;
      }
      continue;
    }
    break;
  }
  return out.slice(0, max);
}
