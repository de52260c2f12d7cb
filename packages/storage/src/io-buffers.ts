/**
 * 1 MiB I/O buffers shared by every download and upload, aligned for direct I/O.
 *
 * A busy registry would otherwise allocate (and fault in, and collect) fresh buffers for every request, which
 * costs a small push more than its own bytes do. The pooled buffers are views of one WebAssembly memory, which
 * V8 maps page-aligned, so every buffer starts on a 4 KiB boundary as O_DIRECT requires (a Buffer from Node's
 * allocator has no such guarantee, and JavaScript cannot ask for an address). The memory is reserved once and
 * takes resident pages only as buffers are first used; beyond the pool, buffers are ordinary allocations that
 * are collected after use, and the direct-I/O paths treat them as unaligned.
 *
 * The memory is shared (a SharedArrayBuffer), so another thread of the process can read a pooled buffer where it
 * is: uploads are hashed on a thread of their own while the same buffer is written to storage.
 */

export const IO_BUFFER_BYTES = 1024 * 1024;
/** File offsets, lengths and buffer addresses of direct I/O are multiples of this (covers 512 B and 4 KiB sectors). */
export const DIRECT_IO_ALIGNMENT = 4096;
const POOLED_BUFFERS = 64;
const WASM_PAGE_BYTES = 64 * 1024;

// The global of every JavaScript engine Node runs on; the project's TypeScript libraries do not describe it.
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => {
    readonly buffer: SharedArrayBuffer;
  };
};

const free: Buffer[] = [];
const pooled = new WeakSet<Buffer>();
let memory: SharedArrayBuffer | null = null;
let reserved = false;

function reservePool(): void {
  reserved = true;
  const pages = (POOLED_BUFFERS * IO_BUFFER_BYTES) / WASM_PAGE_BYTES;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
  } catch {
    // No shared WebAssembly memory (a locked-down runtime): plain buffers, and every direct-I/O path falls back.
    return;
  }
  for (let i = POOLED_BUFFERS - 1; i >= 0; i--) {
    const buffer = Buffer.from(memory, i * IO_BUFFER_BYTES, IO_BUFFER_BYTES);
    pooled.add(buffer);
    free.push(buffer);
  }
}

export function takeIoBuffer(): Buffer {
  if (!reserved) reservePool();
  return free.pop() ?? Buffer.allocUnsafeSlow(IO_BUFFER_BYTES);
}

/** Gives a buffer from takeIoBuffer back; nothing may read or write it afterwards. Buffers from beyond the pool are left to the collector. */
export function returnIoBuffer(buffer: Buffer): void {
  if (pooled.has(buffer)) free.push(buffer);
}

/**
 * Copies `source[sourceStart, sourceEnd)` into `target` at `targetStart`, as far as the source has bytes and the
 * target has room, and returns how many bytes were copied (what Buffer#copy does). Pooled buffers live in shared
 * memory, and V8 copies into shared memory (Buffer#copy, TypedArray#set) word by word, as its memory model asks of
 * a SharedArrayBuffer another thread may read: half the speed of memcpy, on every byte of every upload. Node's
 * native fill of a range with a buffer at least as long as the range is one memcpy. Nothing else reads the
 * target's bytes while they are copied.
 */
export function copyIntoIoBuffer(
  source: Buffer,
  target: Buffer,
  targetStart: number,
  sourceStart = 0,
  sourceEnd = source.length,
): number {
  // As Buffer#copy does, an end beyond the source is the source's end.
  const length = Math.min(Math.min(sourceEnd, source.length) - sourceStart, target.length - targetStart);
  if (length <= 0) return 0;
  const piece =
    sourceStart === 0 && length === source.length ? source : source.subarray(sourceStart, sourceStart + length);
  target.fill(piece, targetStart, targetStart + length);
  return length;
}

/** The pool's memory, which every pooled buffer (and view of one) lies in; null when the runtime could not provide it. */
export function ioBufferMemory(): SharedArrayBuffer | null {
  if (!reserved) reservePool();
  return memory;
}

/** Whether bytes lie in the pool's memory and start on a direct-I/O boundary (a pooled buffer, or an aligned view of one). */
export function isAlignedIoBuffer(buffer: Buffer): boolean {
  return memory !== null && buffer.buffer === memory && isAlignedOffset(buffer.byteOffset);
}

export function isAlignedOffset(value: number): boolean {
  return value % DIRECT_IO_ALIGNMENT === 0;
}

export function alignDown(value: number): number {
  return value - (value % DIRECT_IO_ALIGNMENT);
}
