import { GroupCommit } from './groupCommit.js';

describe('GroupCommit', () => {
  it('writes a lone item at once, and groups what arrives while a write runs', async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupCommit<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await gate; // the first write is slow: others pile up behind it
    });
    const first = g.add(1);
    const rest = [2, 3, 4].map((n) => g.add(n));
    expect(writes).toEqual([[1]]);
    release();
    await Promise.all([first, ...rest]);
    expect(writes).toEqual([[1], [2, 3, 4]]);
  });

  it('fails every caller of a failed write, and goes on with the next', async () => {
    let fail = true;
    const g = new GroupCommit<string>(async () => {
      if (fail) {
        fail = false;
        throw new Error('database gone');
      }
    });
    await expect(g.add('a')).rejects.toThrow('database gone');
    await expect(g.add('b')).resolves.toBeUndefined();
  });

  it('keeps each write within the bound', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupCommit<number>(async (items) => {
      sizes.push(items.length);
      if (sizes.length === 1) await gate;
    }, 3);
    const all = Array.from({ length: 8 }, (_, i) => g.add(i));
    release();
    await Promise.all(all);
    expect(sizes).toEqual([1, 3, 3, 1]);
  });

  it('gives each caller the write\'s answer for its own item', async () => {
    const g = new GroupCommit<number, boolean>(async (items) => items.map((n) => n % 2 === 0));
    expect(await Promise.all([1, 2, 3].map((n) => g.add(n)))).toEqual([false, true, false]);
  });
});
