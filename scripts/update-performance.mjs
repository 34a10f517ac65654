// Regenerates the benchmark tables of docs/performance.md from bench/results/<name>.json.
// Each table sits between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`; the region is
// replaced by the line naming the machine and date of the result and a table of its figures
// (one row per figure row, one column per key seen in any row, in first-seen order).
// Everything outside the regions is left as it is.
//
//   node scripts/update-performance.mjs           rewrite docs/performance.md
//   node scripts/update-performance.mjs --check   exit 1 if it would change
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const docPath = join(root, 'docs', 'performance.md');
const resultsDir = join(root, 'bench', 'results');

const check = process.argv.includes('--check');
const unknown = process.argv.slice(2).filter((arg) => arg !== '--check');
if (unknown.length > 0) {
  console.error(`usage: node scripts/update-performance.mjs [--check] (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}

const region = /<!-- bench:([\w.-]+) -->[\s\S]*?<!-- \/bench:([\w.-]+) -->/g;

/** 1234567.891 → "1,234,567.891"; the digits after the point are kept as they are. */
function formatNumber(n) {
  if (!Number.isFinite(n)) return String(n);
  const text = String(n);
  if (/e/i.test(text)) return text;
  const negative = text.startsWith('-');
  const [int, frac] = (negative ? text.slice(1) : text).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${frac === undefined ? '' : `.${frac}`}`;
}

function cell(value) {
  if (value === null || value === undefined) return '';
  let text;
  if (typeof value === 'number') text = formatNumber(value);
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function row(cells) {
  return `| ${cells.join(' | ')} |`;
}

/** "2026-11-22T06:48:08.271Z" → "2026-11-22 06:48 UTC". */
function formatDate(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function table(figures) {
  const rows = Object.entries(figures ?? {});
  const columns = [];
  for (const [, values] of rows) {
    const keys = values !== null && typeof values === 'object' && !Array.isArray(values) ? Object.keys(values) : ['value'];
    for (const key of keys) if (!columns.includes(key)) columns.push(key);
  }
  const lines = [`| |${columns.map((column) => ` ${cell(column)} |`).join('')}`, row(['---', ...columns.map(() => '---')])];
  for (const [label, values] of rows) {
    const record = values !== null && typeof values === 'object' && !Array.isArray(values) ? values : { value: values };
    lines.push(row([cell(label), ...columns.map((column) => cell(record[column]))]));
  }
  return lines.join('\n');
}

function section(name, result) {
  const file = `bench/results/${name}.json`;
  if (!result) return `_No results yet: run \`node bench/run.mjs ${name}\`._`;
  const m = result.machine ?? {};
  const measured = `Measured ${formatDate(m.date)} on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node} (\`${file}\`).`;
  return `${measured}\n\n${table(result.figures)}`;
}

function readResult(name) {
  const path = join(resultsDir, `${name}.json`);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`bench/results/${name}.json: ${error.message}`);
  }
}

const text = readFileSync(docPath, 'utf8');
const missing = [];
let failed = false;
const next = text.replace(region, (whole, name, closing) => {
  if (closing !== name) {
    console.error(`docs/performance.md: region <!-- bench:${name} --> is closed by <!-- /bench:${closing} -->`);
    failed = true;
    return whole;
  }
  const result = readResult(name);
  if (!result) missing.push(name);
  return `<!-- bench:${name} -->\n\n${section(name, result)}\n\n<!-- /bench:${name} -->`;
});
if (failed) process.exit(2);
for (const name of missing) console.error(`no bench/results/${name}.json: its region says there are no results yet`);

if (next === text) {
  if (!check) console.log('docs/performance.md is up to date');
} else if (check) {
  console.error('docs/performance.md is out of date: run npm run docs:performance');
  process.exit(1);
} else {
  writeFileSync(docPath, next);
  console.log('updated docs/performance.md');
}
