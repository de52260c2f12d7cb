/**
 * 1 MiB I/O buffers shared by every download and upload, aligned for direct I/O.
 *
 * A busy registry would otherwise allocate (and fault in, and collect) fresh buffers for every request, which
 * costs a small push more than its own bytes do. The pooled buffers are views of one WebAssembly memory, which
 * V8 maps page-aligned, so every buffer starts on a 4 KiB boundary as O_DIRECT requires (a Buffer from Node's
 * allocator has no such guarantee, and JavaScript cannot ask for an address). The memory is reserved once and
 * takes resident pages only as buffers are first used; beyond the pool, buffers are ordinary allocations that
 * are collected after use, and the direct-I/O paths treat them as unaligned.
 */

export const IO_BUFFER_BYTES = 1024 * 1024;
/** File offsets, lengths and buffer addresses of direct I/O are multiples of this (covers 512 B and 4 KiB sectors). */
export const DIRECT_IO_ALIGNMENT = 4096;
const POOLED_BUFFERS = 64;
const WASM_PAGE_BYTES = 64 * 1024;

// The global of every JavaScript engine Node runs on; the project's TypeScript libraries do not describe it.
declare const WebAssembly: { Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer } };

const free: Buffer[] = [];
const aligned = new WeakSet<Buffer>();
let reserved = false;

function reservePool(): void {
  reserved = true;
  let memory: { readonly buffer: ArrayBuffer };
  try {
    memory = new WebAssembly.Memory({ initial: (POOLED_BUFFERS * IO_BUFFER_BYTES) / WASM_PAGE_BYTES });
  } catch {
    // No WebAssembly memory (a locked-down runtime): plain buffers, and every direct-I/O path falls back.
    return;
  }
  for (let i = POOLED_BUFFERS - 1; i >= 0; i--) {
    const buffer = Buffer.from(memory.buffer, i * IO_BUFFER_BYTES, IO_BUFFER_BYTES);
    aligned.add(buffer);
    free.push(buffer);
  }
}

export function takeIoBuffer(): Buffer {
  if (!reserved) reservePool();
  return free.pop() ?? Buffer.allocUnsafeSlow(IO_BUFFER_BYTES);
}

export function returnIoBuffer(buffer: Buffer): void {
  if (aligned.has(buffer)) free.push(buffer);
}

/** Whether a buffer came from the pool, so that direct I/O may use it. */
export function isAlignedIoBuffer(buffer: Buffer): boolean {
  return aligned.has(buffer);
}

export function isAlignedOffset(value: number): boolean {
  return value % DIRECT_IO_ALIGNMENT === 0;
}

export function alignDown(value: number): number {
  return value - (value % DIRECT_IO_ALIGNMENT);
}
