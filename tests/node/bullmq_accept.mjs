// BullMQ acceptance test against a running server:
//   node bullmq_accept.mjs <port>
// A Queue adds 1,000 jobs (half one by one, half with addBulk), a few
// delayed jobs (delay 500 ms), a job that fails twice and then succeeds
// (attempts 3, fixed backoff 100 ms), a job that fails every attempt
// (attempts 2) and one with a custom id and a priority. A Worker with concurrency 8 processes them; a QueueEvents
// reading the events stream from its start (bull:<queue>:events, XREAD
// BLOCK) must see a `completed` event for every job that completes and a
// `failed` event for the one that fails. Then the job counts, return values,
// attempts and delays are checked against fixed expected values and
// everything is closed. The server must already be running at
// 127.0.0.1:<port>; this script FLUSHes database 0 first and starts no
// server. Prints one summary line; exits 1 on any failure or after 60 s.
import { Queue, Worker, QueueEvents, Job } from 'bullmq';
import IORedis from 'ioredis';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node bullmq_accept.mjs <port>');
  process.exit(2);
}
const TIME_LIMIT_MS = 60_000;
const BULK = 1000;
const DELAYED = 3;
const DELAY_MS = 500;
const QUEUE = 'accept';
const started = Date.now();
const failures = [];
let passed = 0;

function check(name, cond, detail = '') {
  if (cond) passed++;
  else failures.push(`${name}${detail ? ': ' + detail : ''}`);
}
function eq(name, got, want) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  check(name, g === w, `got ${g}, want ${w}`);
}
function finish() {
  // the same error repeated (e.g. a Worker retrying a failing command) is printed once
  const seen = new Map();
  for (const f of failures) seen.set(f, (seen.get(f) || 0) + 1);
  for (const [f, n] of seen) console.error('FAIL', f, n > 1 ? `(x${n})` : '');
  const verdict = failures.length ? 'FAILED' : 'ok';
  console.log(`bullmq_accept: ${verdict}: ${passed} checks passed, ${failures.length} failed, ` +
    `${((Date.now() - started) / 1000).toFixed(1)}s`);
  return failures.length ? 1 : 0;
}

const watchdog = setTimeout(() => {
  failures.push(`time limit: not done after ${TIME_LIMIT_MS / 1000}s (${progress()})`);
  process.exit(finish() || 1);
}, TIME_LIMIT_MS);
watchdog.unref();

const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const completed = new Map(); // jobId -> returnvalue, from QueueEvents
const failedEvents = new Map(); // jobId -> failedReason, from QueueEvents
let duplicateCompleted = 0;
let workerCompleted = 0;
let wake = () => {}; // re-checks the wait condition below
const progress = () => `${completed.size} completed events, ${failedEvents.size} failed events, ` +
  `${workerCompleted} completed in the worker`;

async function main() {
  const admin = new IORedis(connection);
  await admin.flushdb();

  const queueEvents = new QueueEvents(QUEUE, { connection, lastEventId: '0-0' });
  queueEvents.on('completed', ({ jobId, returnvalue }) => {
    if (completed.has(jobId)) duplicateCompleted++;
    completed.set(jobId, returnvalue);
    wake();
  });
  queueEvents.on('failed', ({ jobId, failedReason }) => {
    failedEvents.set(jobId, failedReason);
    wake();
  });
  queueEvents.on('error', (err) => failures.push(`QueueEvents error: ${err.message}`));
  await queueEvents.waitUntilReady();

  const queue = new Queue(QUEUE, { connection });
  queue.on('error', (err) => failures.push(`Queue error: ${err.message}`));

  const processor = async (job) => {
    switch (job.name) {
      case 'bulk':
        return { i: job.data.i, square: job.data.i * job.data.i };
      case 'delayed':
        return { waited: Date.now() - job.timestamp, tag: job.data.tag };
      case 'flaky':
        if (job.attemptsMade < 2) throw new Error(`flaky attempt ${job.attemptsMade + 1}`);
        return `ok on attempt ${job.attemptsMade + 1}`;
      case 'doomed':
        throw new Error('doomed');
      default:
        throw new Error(`unknown job ${job.name}`);
    }
  };
  const worker = new Worker(QUEUE, processor, { connection, concurrency: 8 });
  worker.on('error', (err) => failures.push(`Worker error: ${err.message}`));
  worker.on('completed', () => { workerCompleted++; wake(); });
  await worker.waitUntilReady();

  // --- add the jobs ---------------------------------------------------------
  const bulkIds = [];
  for (let i = 0; i < BULK / 2; i++) {
    const job = await queue.add('bulk', { i }, { removeOnComplete: false });
    bulkIds.push(job.id);
  }
  const added = await queue.addBulk(
    Array.from({ length: BULK / 2 }, (_, k) => ({ name: 'bulk', data: { i: BULK / 2 + k } })));
  for (const job of added) bulkIds.push(job.id);
  const delayedIds = [];
  for (let k = 0; k < DELAYED; k++) {
    const job = await queue.add('delayed', { tag: `d${k}` }, { delay: DELAY_MS });
    delayedIds.push(job.id);
  }
  const flaky = await queue.add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  const doomed = await queue.add('doomed', {}, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
  const custom = await queue.add('bulk', { i: -1 }, { jobId: 'custom-id', priority: 1 });

  eq('ids are unique', new Set([...bulkIds, ...delayedIds, flaky.id, doomed.id]).size,
    BULK + DELAYED + 2);
  eq('custom job id', custom.id, 'custom-id');

  // --- wait until QueueEvents has seen everything ----------------------------
  const wantCompleted = BULK + DELAYED + 2; // + flaky + custom
  await new Promise((resolve) => {
    wake = () => {
      if (completed.size >= wantCompleted && failedEvents.has(doomed.id) &&
          workerCompleted >= wantCompleted) resolve();
    };
    wake();
  });

  // --- check ------------------------------------------------------------------
  eq('completed events', completed.size, wantCompleted);
  eq('duplicate completed events', duplicateCompleted, 0);
  eq('worker completed count', workerCompleted, wantCompleted);
  let badReturn = 0;
  for (const id of bulkIds) {
    const job = await Job.fromId(queue, id);
    const rv = completed.get(id);
    const parsed = typeof rv === 'string' ? JSON.parse(rv) : rv;
    if (!job || parsed?.square !== job.data.i * job.data.i || job.returnvalue?.square !== parsed.square) {
      badReturn++;
      if (badReturn <= 3) failures.push(`job ${id}: return value ${JSON.stringify(rv)} / ${JSON.stringify(job?.returnvalue)}`);
    }
  }
  eq('bulk jobs with a wrong return value', badReturn, 0);
  for (const id of delayedIds) {
    const job = await Job.fromId(queue, id);
    eq(`delayed ${id}: state`, await job.getState(), 'completed');
    check(`delayed ${id}: processed after its delay`, job.processedOn - job.timestamp >= DELAY_MS,
      `processedOn - timestamp = ${job.processedOn - job.timestamp} ms`);
    eq(`delayed ${id}: opts.delay`, job.opts.delay, DELAY_MS);
  }
  {
    const job = await Job.fromId(queue, flaky.id);
    eq('flaky: state', await job.getState(), 'completed');
    eq('flaky: returnvalue', job.returnvalue, 'ok on attempt 3');
    eq('flaky: attemptsMade', job.attemptsMade, 3);
    eq('flaky: stacktrace entries', job.stacktrace.length, 2);
    eq('flaky: completed event', completed.get(flaky.id), 'ok on attempt 3');
    check('flaky: no failed event', !failedEvents.has(flaky.id), failedEvents.get(flaky.id));
    // two backoffs of 100 ms between the three attempts
    check('flaky: finished after its backoffs', job.finishedOn - job.timestamp >= 200,
      `finishedOn - timestamp = ${job.finishedOn - job.timestamp} ms`);
  }
  {
    const job = await Job.fromId(queue, doomed.id);
    eq('doomed: state', await job.getState(), 'failed');
    eq('doomed: failedReason', job.failedReason, 'doomed');
    eq('doomed: attemptsMade', job.attemptsMade, 2);
    eq('doomed: failed event', failedEvents.get(doomed.id), 'doomed');
    check('doomed: no completed event', !completed.has(doomed.id));
  }
  eq('custom: returnvalue', completed.get('custom-id'), { i: -1, square: 1 });
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'paused');
  eq('job counts', counts,
    { waiting: 0, active: 0, delayed: 0, completed: wantCompleted, failed: 1, prioritized: 0, paused: 0 });
  const completedJobs = await queue.getJobs(['completed'], 0, 9);
  eq('getJobs(completed, 0, 9) length', completedJobs.length, 10);
  const failedJobs = await queue.getFailed();
  eq('getFailed ids', failedJobs.map((j) => j.id), [doomed.id]);
  const evLen = await admin.xlen(`bull:${QUEUE}:events`);
  check('events stream has entries', evLen > wantCompleted, `XLEN ${evLen}`);

  // --- close everything ------------------------------------------------------
  await worker.close();
  await queueEvents.close();
  await queue.close();
  await admin.quit();
}

try {
  await main();
} catch (err) {
  failures.push(`exception: ${err && err.stack || err}`);
  process.exit(finish() || 1); // connections may still be open: do not wait for them
}
clearTimeout(watchdog);
process.exitCode = finish();
// Nothing may keep the process alive after the close: report what does.
const leftover = setTimeout(() => {
  console.error('FAIL handles left open after close:', process.getActiveResourcesInfo().join(', '));
  process.exit(1);
}, 5000);
leftover.unref();
