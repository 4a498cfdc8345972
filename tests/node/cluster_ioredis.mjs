// ioredis's Cluster client against a Redis Cluster of Redistill nodes:
// discovery through CLUSTER SLOTS, keys across every node, MOVED followed,
// a pipeline, and a transaction on hash-tagged keys.
//
//     node cluster_ioredis.mjs PORT
import { Cluster } from "ioredis";

const port = Number(process.argv[2]);
const cluster = new Cluster([{ host: "127.0.0.1", port }], {
  enableReadyCheck: true,
  redisOptions: { connectTimeout: 5000 },
});

function check(cond, what) {
  if (!cond) {
    console.error(`ioredis: ${what}`);
    process.exit(1);
  }
}

const timer = setTimeout(() => {
  console.error("ioredis: timed out");
  process.exit(1);
}, 60000);

await new Promise((resolve, reject) => {
  cluster.once("ready", resolve);
  cluster.once("error", reject);
});
for (let i = 0; i < 300; i++) {
  await cluster.set(`io:${i}`, String(i));
}
for (let i = 0; i < 300; i++) {
  check((await cluster.get(`io:${i}`)) === String(i), `io:${i} read back wrong`);
}
const nodes = cluster.nodes("master");
check(nodes.length >= 3, `${nodes.length} masters discovered`);
let total = 0;
for (const n of nodes) {
  total += Number(await n.dbsize());
}
check(total >= 300, `${total} keys over the masters`);
const pipe = cluster.pipeline();
for (let i = 0; i < 50; i++) pipe.incr("{io}:counter");
const results = await pipe.exec();
check(results.length === 50 && results[49][1] === 50, "pipeline of INCRs");
const tx = await cluster.multi().set("{io}:a", "1").incr("{io}:a").get("{io}:a").exec();
check(tx[2][1] === "2", `transaction gave ${JSON.stringify(tx)}`);
let crossslot = "";
try {
  await cluster.nodes("master")[0].mset("a", "1", "b", "2");
} catch (e) {
  crossslot = String(e.message);
}
check(crossslot.startsWith("CROSSSLOT"), `MSET across slots: ${crossslot}`);
console.log(`ioredis: ${nodes.length} masters, ${total} keys, pipeline and transaction ok`);
clearTimeout(timer);
await cluster.quit();
