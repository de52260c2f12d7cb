import { describe, expect, it } from '@jest/globals';
import { copyIntoIoBuffer, ioBufferMemory, returnIoBuffer, takeIoBuffer } from './io-buffers.js';

describe('copyIntoIoBuffer', () => {
  it('copies a whole source into a pooled buffer in shared memory at an offset', () => {
    const target = takeIoBuffer();
    try {
      expect(target.buffer).toBe(ioBufferMemory());
      target.fill(0, 0, 16);
      const copied = copyIntoIoBuffer(Buffer.from('abcdef'), target, 3);
      expect(copied).toBe(6);
      expect(target.subarray(0, 12)).toEqual(Buffer.from('\0\0\0abcdef\0\0\0', 'latin1'));
    } finally {
      returnIoBuffer(target);
    }
  });

  it('copies only the asked range of the source, once, never repeating it', () => {
    const target = Buffer.alloc(12);
    expect(copyIntoIoBuffer(Buffer.from('0123456789'), target, 1, 4, 7)).toBe(3);
    expect(target.toString('latin1')).toBe('\x00456\x00\x00\x00\x00\x00\x00\x00\x00');
  });

  it('stops where the target ends and says how much it copied', () => {
    const target = Buffer.alloc(8);
    expect(copyIntoIoBuffer(Buffer.from('abcdefghij'), target, 5, 2)).toBe(3);
    expect(target.subarray(5).toString('latin1')).toBe('cde');
    expect(copyIntoIoBuffer(Buffer.from('xyz'), target, 8)).toBe(0);
    expect(copyIntoIoBuffer(Buffer.from('xyz'), target, 0, 3)).toBe(0);
  });

  it('takes an end beyond the source as the end of the source, as Buffer#copy does', () => {
    const target = Buffer.alloc(16, '.');
    expect(copyIntoIoBuffer(Buffer.from('abc'), target, 2, 1, 100)).toBe(2);
    expect(target.toString('latin1')).toBe('..bc............');
    for (const [start, end] of [
      [0, 3],
      [1, 50],
      [3, 9],
      [2, 1],
    ]) {
      const mine = Buffer.alloc(8, '.');
      const theirs = Buffer.alloc(8, '.');
      expect(copyIntoIoBuffer(Buffer.from('xyz'), mine, 4, start, end)).toBe(
        Buffer.from('xyz').copy(theirs, 4, start, end),
      );
      expect(mine).toEqual(theirs);
    }
  });

  it('copies large random data byte for byte', () => {
    const target = takeIoBuffer();
    try {
      const source = Buffer.alloc(300_000);
      for (let i = 0; i < source.length; i++) source[i] = (i * 7919) & 0xff;
      let filled = 0;
      let offset = 0;
      while (offset < source.length) {
        const copied = copyIntoIoBuffer(source, target, filled, offset, Math.min(offset + 65_536, source.length));
        filled += copied;
        offset += copied;
      }
      expect(filled).toBe(source.length);
      expect(target.subarray(0, filled).equals(source)).toBe(true);
    } finally {
      returnIoBuffer(target);
    }
  });
});
