#!/usr/bin/env node
// libuv's thread pool runs every file read, write and fsync. With its default four threads, a few uploads
// flushing large blobs to disk would hold every thread and stall all other file I/O; the pool is sized
// before anything uses it, which is why the program itself is loaded only afterwards.
process.env.UV_THREADPOOL_SIZE ??= '16';
await import('./run.js');
