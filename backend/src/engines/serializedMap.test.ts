import { arqFunctionName } from './arq/driver.js';
import { readSerializedMap } from './serializedMap.js';
import { readTaskiqMessage } from './taskiq/messages.js';

// A taskiq message, {'task_id': 'a1', 'task_name': 'app:echo', 'labels': {'origin': 'app:echo'},
// 'labels_types': None, 'args': ['app:echo', datetime(2026, 1, 2, tzinfo=utc)], 'kwargs': {}},
// written as taskiq's serializers write it (Python msgpack 1.2.4 and cbor2 6.3.0, their options).
const MESSAGE = { taskId: 'a1', taskName: 'app:echo' };
// msgpack.packb(m, use_bin_type=True, datetime=True): MSGPackSerializer
const MSGPACK = Buffer.from('86a77461736b5f6964a26131a97461736b5f6e616d65a86170703a6563686fa66c6162656c7381a66f726967696ea86170703a6563686fac6c6162656c735f7479706573c0a46172677392a86170703a6563686fd6ff69570a80a66b776172677380', 'hex');
// cbor2.dumps(m, string_referencing=True, datetime_as_timestamp=True, date_as_datetime=True):
// CBORSerializer. Tag 256 around the dict; the repeated 'app:echo' is a reference (tag 25).
const CBOR = Buffer.from('d90100a6677461736b5f6964626131697461736b5f6e616d65686170703a6563686f666c6162656c73a1666f726967696ed819026c6c6162656c735f7479706573f6646172677382d81902c11a69570a80666b7761726773a0', 'hex');

describe('readSerializedMap', () => {
  test("reads the dict of each serializer taskiq ships: JSON, msgpack and CBOR with string references", () => {
    expect(readSerializedMap(Buffer.from('{"task_id": "a1", "args": []}'))).toEqual({ task_id: 'a1', args: [] });
    expect(readSerializedMap(MSGPACK)).toMatchObject({ task_id: 'a1', task_name: 'app:echo', labels: { origin: 'app:echo' }, kwargs: {} });
    expect(readSerializedMap(CBOR)).toMatchObject({ task_id: 'a1', task_name: 'app:echo', kwargs: {} });
  });

  test('anything else, or not what its first byte says, is null: never a guess, never a throw', () => {
    const unreadable = [
      Buffer.from([]),
      Buffer.from('{"task_id": "a1"'), // JSON cut short
      Buffer.from('[1, 2]'),
      Buffer.from('92a77461736b5f6964a26131', 'hex'), // a msgpack array
      MSGPACK.subarray(0, 20),
      CBOR.subarray(0, 20),
      Buffer.from('8005952a000000000000007d94', 'hex'), // a pickle: pickleStrings reads those
      Buffer.from('x\x9c\xab\xae\x05\x00\x01u\x00\xf9', 'latin1'), // zlib: a serializer of the user's own
    ];
    for (const raw of unreadable) expect(readSerializedMap(raw)).toBeNull();
  });
});

describe('readTaskiqMessage', () => {
  test('finds the id and task name in a message of any serializer taskiq ships', () => {
    const json = Buffer.from(JSON.stringify({ task_id: 'a1', task_name: 'app:echo', labels: {}, args: [], kwargs: {} }));
    // pickle.dumps({'task_id': 'a1', 'task_name': 'app:echo'}), as PickleSerializer writes a message
    const pickle = Buffer.from('8004952b000000000000007d94288c077461736b5f6964948c026131948c097461736b5f6e616d65948c086170703a6563686f94752e', 'hex');
    for (const raw of [json, MSGPACK, CBOR, pickle]) expect(readTaskiqMessage(raw)).toEqual(MESSAGE);
  });

  test('a message without a string id and name is not a taskiq message', () => {
    expect(readTaskiqMessage(Buffer.from('{"task_id": 1, "task_name": "app:echo"}'))).toBeNull();
    expect(readTaskiqMessage(Buffer.from('{"id": "a1"}'))).toBeNull();
  });
});

describe('arqFunctionName', () => {
  test("reads a job written with msgpack (arq's job_serializer, as arq's docs show it)", () => {
    // msgpack.packb({'t': 1, 'f': 'jobs.add', 'a': [1, 'x'], 'k': {}, 'et': 1700000000000})
    expect(arqFunctionName(Buffer.from('85a17401a166a86a6f62732e616464a1619201a178a16b80a26574cf0000018bcfe56800', 'hex'))).toBe('jobs.add');
    expect(arqFunctionName(Buffer.from('{"t": 1, "f": "jobs.add"}'))).toBe('jobs.add');
    expect(arqFunctionName(Buffer.from('{"t": 1, "f": 2}'))).toBeNull();
  });
});
