#!/usr/bin/env node
// The BullMQ side of `make bench` (bench/side_by_side.py): one workload per run, measured the way
// bench/side_by_side.py measures ours, printed as ONE JSON object on the last line of stdout
// (progress goes to stderr).
//
// usage: node bench.js <workload> [key=value ...]
//   burst   n=10000 concurrency=100 timeout=150
//           n job schedulers with cron pattern '* * * * *' fire at one minute boundary B; figures are
//           seconds from B to each job's processor start (last and p50), and this process's peak RSS.
//   every   n=1000 seconds=60 every=1000 concurrency=100 grace=10
//           n job schedulers `every` ms, aligned on the same instants; over a window of `seconds`
//           (after 3 s of warm-up): fires started (by the window's end + grace) against expected,
//           lateness = processor start - intended fire time (ms).
//   bulk    n=20000 concurrency=1 chunk=1000
//           addBulk in chunks, one Worker: n / (first add -> n-th 'completed').
//   single  n=2000 concurrency=1
//           queue.add one job at a time (awaited), one Worker: n / (first add -> n-th 'completed').
//
// REDIS_URL (default redis://127.0.0.1:6379/10) must name a database of its own: it is FLUSHED before
// and after the run. The processors do nothing (the counterpart of our `echo` handler). The intended
// fire time of a scheduler's job is the milliseconds at the end of its id (BullMQ: job schedulers
// name their jobs `repeat:<scheduler id>:<millis>`), else its timestamp + delay.
// The dependencies (package.json) are installed in this folder on first run.
'use strict';

const { execFileSync } = require('child_process');

function ensureDependencies() {
  try {
    require.resolve('bullmq', { paths: [__dirname] });
  } catch {
    console.error('[bullmq] first run: npm install in', __dirname);
    execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: __dirname, stdio: ['ignore', 2, 2] });
  }
}
ensureDependencies();

const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const MINUTE = 60000;
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function redisOptions() {
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/10');
  const db = Number(url.pathname.replace('/', '') || 'NaN');
  if (!Number.isInteger(db) || db === 0) throw new Error('REDIS_URL must name a database number other than 0');
  return { host: url.hostname, port: Number(url.port || 6379), db, maxRetriesPerRequest: null };
}
const connection = redisOptions();

async function flush() {
  const client = new IORedis(connection);
  await client.flushdb();
  await client.quit();
}

// The value at percentile p of sorted numbers (nearest rank).
function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function intendedFire(job) {
  const millis = Number(String(job.id).split(':').pop());
  return Number.isFinite(millis) ? millis : job.timestamp + (job.opts.delay || 0);
}

// Peak resident set size of this process (queue, worker and scheduler client), sampled every 200 ms.
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 200);
  return () => { clearInterval(timer); return Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576); };
}

async function upsertSchedulers(queue, n, prefix, repeat) {
  for (let start = 0; start < n; start += 1000) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + 1000); i++) {
      batch.push(queue.upsertJobScheduler(`${prefix}${i}`, repeat, { name: 'echo', data: { i } }));
    }
    await Promise.all(batch);
  }
}

async function burst({ n = 10000, concurrency = 100, timeout = 150 }) {
  const queue = new Queue('bench-burst', { connection });
  await queue.waitUntilReady();
  const peakRss = rssSampler();
  // Creating the schedulers must end before the boundary that is measured: with too little of the
  // minute left, start just after the next boundary.
  const needMs = Math.min(55000, 10000 + n / 2);
  const leftMs = MINUTE - (Date.now() % MINUTE);
  if (leftMs < needMs) await sleep(leftMs + 500);
  const t0 = Date.now();
  await upsertSchedulers(queue, n, 'burst-', { pattern: '* * * * *' });
  const createS = (Date.now() - t0) / 1000;
  const boundary = Math.ceil(Date.now() / MINUTE) * MINUTE;
  console.error(`[bullmq] ${n} schedulers in ${createS} s; boundary ${new Date(boundary).toISOString()}`);
  const starts = [];
  const worker = new Worker('bench-burst', async job => {
    const now = Date.now();
    if (intendedFire(job) === boundary) starts.push((now - boundary) / 1000);
    return null;
  }, { connection, concurrency });
  worker.on('error', err => console.error('[bullmq] worker error', err.message));
  await worker.waitUntilReady();
  const deadline = boundary + timeout * 1000;
  while (starts.length < n && Date.now() < deadline) await sleep(100);
  const sorted = Float64Array.from(starts).sort();
  const result = {
    workload: 'burst', n, concurrency, create_s: createS, boundary: new Date(boundary).toISOString(),
    started: sorted.length, last_s: sorted.length ? sorted[sorted.length - 1] : null,
    p50_s: percentile(sorted, 50), rss_mb: peakRss(), timed_out: sorted.length < n,
  };
  await worker.close();
  await queue.close();
  return result;
}

async function every({ n = 1000, seconds = 60, every = 1000, concurrency = 100, grace = 10 }) {
  const queue = new Queue('bench-every', { connection });
  await queue.waitUntilReady();
  const late = [];
  let from = Infinity, to = -Infinity;
  const worker = new Worker('bench-every', async job => {
    const now = Date.now();
    const intended = intendedFire(job);
    if (intended >= from && intended < to) late.push(now - intended);
    return null;
  }, { connection, concurrency });
  worker.on('error', err => console.error('[bullmq] worker error', err.message));
  await worker.waitUntilReady();
  const t0 = Date.now();
  await upsertSchedulers(queue, n, 'every-', { every });
  const createS = (Date.now() - t0) / 1000;
  from = Math.ceil((Date.now() + 3000) / every) * every; // 3 s of warm-up, then whole periods
  to = from + seconds * 1000;
  await sleep(to + grace * 1000 - Date.now());
  const started = late.length; // taken at the deadline: later starts do not count
  const sorted = Float64Array.from(late.slice(0, started)).sort();
  const result = {
    workload: 'every', n, every_ms: every, seconds, concurrency, create_s: createS,
    expected: Math.round((n * seconds * 1000) / every), started,
    p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99),
    max_ms: sorted.length ? sorted[sorted.length - 1] : null,
  };
  await worker.close();
  await queue.close();
  return result;
}

// Submit n jobs with `submit(queue, n)`; the rate is n / (first add -> n-th 'completed').
async function drainRate(workload, { n, concurrency, timeout = 600 }, submit) {
  const queue = new Queue(`bench-${workload}`, { connection });
  await queue.waitUntilReady();
  let completed = 0, finishedAt = 0;
  const worker = new Worker(`bench-${workload}`, async () => null, { connection, concurrency });
  worker.on('completed', () => { completed += 1; if (completed === n) finishedAt = performance.now(); });
  worker.on('error', err => console.error('[bullmq] worker error', err.message));
  await worker.waitUntilReady();
  const t0 = performance.now();
  await submit(queue, n);
  const submitS = (performance.now() - t0) / 1000;
  const deadline = Date.now() + timeout * 1000;
  while (completed < n && Date.now() < deadline) await sleep(20);
  const totalS = ((finishedAt || performance.now()) - t0) / 1000;
  const result = {
    workload, n, concurrency, completed, submit_s: +submitS.toFixed(3), total_s: +totalS.toFixed(3),
    jobs_per_s: Math.round(completed / totalS), timed_out: completed < n,
  };
  await worker.close();
  await queue.close();
  return result;
}

function bulk({ n = 20000, concurrency = 1, chunk = 1000 }) {
  return drainRate('bulk', { n, concurrency }, async queue => {
    for (let start = 0; start < n; start += chunk) {
      const jobs = [];
      for (let i = start; i < Math.min(n, start + chunk); i++) jobs.push({ name: 'echo', data: { i } });
      await queue.addBulk(jobs);
    }
  });
}

function single({ n = 2000, concurrency = 1 }) {
  return drainRate('single', { n, concurrency }, async queue => {
    for (let i = 0; i < n; i++) await queue.add('echo', { i });
  });
}

const WORKLOADS = { burst, every, bulk, single };

async function main() {
  const [name, ...pairs] = process.argv.slice(2);
  if (!WORKLOADS[name]) {
    console.error(`usage: node bench.js <${Object.keys(WORKLOADS).join('|')}> [key=value ...]`);
    process.exit(2);
  }
  const params = {};
  for (const pair of pairs) {
    const [key, value] = pair.split('=');
    params[key] = Number(value);
    if (!Number.isFinite(params[key])) throw new Error(`${key}: a number, got ${value}`);
  }
  await flush();
  try {
    const result = await WORKLOADS[name](params);
    console.log(JSON.stringify({ bullmq: require(require('path').join(__dirname, 'node_modules', 'bullmq', 'package.json')).version, ...result }));
  } finally {
    await flush();
  }
  process.exit(0);
}

main().catch(err => { console.error(err); process.exit(1); });
