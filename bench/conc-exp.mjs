import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { createTestDatabase, startWharfRegistry, startReferenceRegistry } from '@wharf/testkit';
const run = promisify(execFile);
const which = process.argv[2];
let db, reg;
if (which === 'wharf') { db = await createTestDatabase('wharf_exp'); reg = await startWharfRegistry({ database: db }); }
else reg = await startReferenceRegistry();
try {
  for (let round = 0; round < Number(process.argv[3] ?? 3); round++) {
    const repo = `exp/r${round}`;
    const locs = await Promise.all([0,1,2,3,4,5,6,7].map(async () => {
      const r = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
      return new URL(r.headers.get('location'), reg.url).toString();
    }));
    const t0 = Date.now();
    const res = await Promise.all(locs.map((loc, i) => {
      const d = readFileSync(`/tmp/exp/blob${i}.sha`, 'utf8').trim();
      const u = `${loc}${loc.includes('?') ? '&' : '?'}digest=sha256:${d}`;
      return run('curl', ['-s', '-o', '/dev/null', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@/tmp/exp/blob${i}`, '-w', '%{http_code} %{time_pretransfer} %{time_starttransfer} %{time_total} %{speed_upload}', u]).then(x => x.stdout);
    }));
    const wall = (Date.now() - t0) / 1000;
    console.log(which, 'round', round, 'wall', wall.toFixed(3), 'MiB/s', (512 / wall).toFixed(0));
    for (const r of res) { const [c, pre, st, tot, sp] = r.split(' ').map(Number); const up = 64*1048576/sp; console.log('  ', c, 'upload_s', up.toFixed(3), 'total', tot.toFixed(3), 'after-body', (tot - pre - up).toFixed(3)); }
  }
} finally { await reg.stop(); await db?.drop(); }
