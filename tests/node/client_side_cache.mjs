// node-redis's client-side cache (RESP3, CLIENT TRACKING) against a server:
//   node client_side_cache.mjs <port>
// Repeated reads are served from the cache (the server's GET count does not
// grow); another client's SET and FLUSHALL reach the cache as invalidations.
import { createClient } from 'redis';
const port = Number(process.argv[2]);
const cached = createClient({ socket: { port, host: '127.0.0.1' }, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0, evictPolicy: 'LRU' } });
const other = createClient({ socket: { port, host: '127.0.0.1' } });
await cached.connect(); await other.connect();
await other.flushAll();
await other.set('user:1', 'alice');
const cache = cached.clientSideCache;
console.log('first', await cached.get('user:1'));
const before = (await other.info('commandstats')).match(/cmdstat_get:calls=(\d+)/)?.[1];
for (let i = 0; i < 20; i++) await cached.get('user:1');
const after = (await other.info('commandstats')).match(/cmdstat_get:calls=(\d+)/)?.[1];
console.log('server GET calls during 20 cached reads:', Number(after) - Number(before));
await other.set('user:1', 'bob');
let v; const deadline = Date.now() + 5000;
do { v = await cached.get('user:1'); if (v === 'bob') break; await new Promise(r => setTimeout(r, 20)); } while (Date.now() < deadline);
console.log('after SET by another client:', v);
if (v !== 'bob') process.exit(1);
await other.flushAll();
do { v = await cached.get('user:1'); if (v === null) break; await new Promise(r => setTimeout(r, 20)); } while (Date.now() < deadline + 5000);
console.log('after FLUSHALL:', v);
await cached.quit(); await other.quit();
const cachedReads = Number(after) - Number(before);
if (v !== null || cachedReads !== 0) process.exit(1);
