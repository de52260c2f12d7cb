import { connect } from 'node:net';

/**
 * Empties one Redis database with two RESP commands, so a fresh Wharf instance does not find the
 * caches and upload state of the previous round (its PostgreSQL database and storage are new too).
 */
export function flushRedisDatabase(host: string, port: number, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error(`Redis at ${host}:${port} did not answer`)));
    socket.once('error', (error) => reject(new Error(`cannot flush Redis database ${index}: ${error.message}`)));
    socket.once('connect', () => {
      const select = String(index);
      socket.write(`*2\r\n$6\r\nSELECT\r\n$${select.length}\r\n${select}\r\n*1\r\n$7\r\nFLUSHDB\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      const lines = reply.split('\r\n').filter((line) => line.length > 0);
      const failed = lines.find((line) => line.startsWith('-'));
      if (failed) {
        socket.destroy();
        reject(new Error(`Redis refused to flush database ${index}: ${failed.slice(1)}`));
      } else if (lines.length >= 2) {
        socket.end();
        resolve();
      }
    });
  });
}
