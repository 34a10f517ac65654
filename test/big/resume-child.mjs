// Child process of big-log.big.ts: resumes one conversation from the BUILT package with a
// fresh runtime, runs one more turn, and reports timings and memory as one JSON line.
//
// argv: home conversationId
import { createRuntime } from '../../dist/src/index.js';

const [home, id] = process.argv.slice(2);
if (!home || !id) {
  process.stderr.write('usage: resume-child.mjs <home> <conversationId>\n');
  process.exit(2);
}

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const issues = [];
const t0 = performance.now();
const runtime = createRuntime({ home, durability: 'sync', onLogIssue: (issue) => issues.push(issue) });
const convo = await runtime.resume(id);
const resumeMs = performance.now() - t0;
const afterResume = process.memoryUsage();
// With --expose-gc: what the resumed conversation RETAINS (the peak may be transient garbage).
globalThis.gc?.();
const retained = process.memoryUsage();
const t1 = performance.now();
const result = await convo.run('one more question after the resume');
const runMs = performance.now() - t1;
await runtime.shutdown();
process.stdout.write(
  `${JSON.stringify({
    resumeMs: Math.round(resumeMs),
    runMs: Math.round(runMs),
    answer: result.finalResponse.slice(0, 500),
    historyItems: convo.historyItems?.().length ?? null,
    rssAfterResumeMB: mb(afterResume.rss),
    heapUsedAfterResumeMB: mb(afterResume.heapUsed),
    heapUsedAfterGcMB: globalThis.gc ? mb(retained.heapUsed) : null,
    // resourceUsage().maxRSS is in kilobytes.
    maxRssMB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    issues,
  })}\n`,
);
