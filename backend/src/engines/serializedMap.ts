// Reads a waiting message that a Python task queue wrote with a data serializer (JSON, msgpack or
// CBOR) into the dict it was, to find a task's id or name in it. Which one by its first byte: each
// writes a dict with a mark of its own. Pickles are not read here: pickleStrings reads their first
// strings without unpickling them. Anything else (the user's own serializer, a compressed one)
// is null: the caller counts it as a message it cannot read.
//
// Libraries, not hand-written decoders: @msgpack/msgpack is msgpack's own JavaScript
// implementation; cbor2 keeps tags it does not know as Tag objects, so Python cbor2's string
// references (taskiq's CBORSerializer writes them by default: tag 256 around the dict, tag 25
// for a repeated string) do not stop it. A string is only referenced once it appeared, so the
// first keys and values of a dict, where a task's id and name are, are always there in full.
import { decode as decodeCbor, Tag } from 'cbor2';
import { decode as decodeMsgpack } from '@msgpack/msgpack';

export type SerializedMap = Record<string, unknown>;

const JSON_OBJECT = 0x7b; // "{"
/** msgpack: a fixmap of 1 to 15 entries, map 16, map 32 (0x80, an empty fixmap, is a pickle's PROTO). */
const isMsgpackMap = (b: number) => (b > 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
/** CBOR: a map (major type 5), or a tag (major type 6) around one. */
const isCborMapOrTag = (b: number) => b >= 0xa0 && b <= 0xdb;
/** Python cbor2's string reference namespace (stringref extension). */
const STRINGREF_NAMESPACE = 256;

export function readSerializedMap(raw: Buffer): SerializedMap | null {
  try {
    if (raw[0] === JSON_OBJECT) return asMap(JSON.parse(raw.toString('utf8')));
    if (isMsgpackMap(raw[0] ?? 0)) return asMap(decodeMsgpack(raw));
    if (isCborMapOrTag(raw[0] ?? 0)) return asMap(unwrapNamespace(decodeCbor(raw)));
  } catch {
    // Not what its first byte said: unreadable, like any other format.
  }
  return null;
}

function unwrapNamespace(value: unknown): unknown {
  return value instanceof Tag && Number(value.tag) === STRINGREF_NAMESPACE ? value.contents : value;
}

function asMap(value: unknown): SerializedMap | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Tag) ? (value as SerializedMap) : null;
}
