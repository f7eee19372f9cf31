import { createFleet } from '@offloop/worker';
const db = process.env.DB!;
const fleet = createFleet({ url: `postgres://postgres@127.0.0.1:5432/${db}`, schemas: 'tenant_*', dir: '/tmp/fleet20/migrations', threads: Number(process.env.T ?? 2), concurrency: Number(process.env.C ?? 8) });
const t0 = performance.now();
let first = 0;
try {
const r = await fleet.up({ onProgress: (e) => { if (e.type === 'fleet:planned') first = performance.now() - t0; } });
const total = performance.now() - t0;
console.log(r.counts.applied, 'scan', Math.round(first), 'total', Math.round(total), 'per target', ((total - first) / r.counts.applied).toFixed(1));
} catch (e) { console.log(e.message); }
const t1 = performance.now(); await fleet.up(); console.log('noop', Math.round(performance.now() - t1));
await fleet.close();
