// Regression guard: code comments and docs point readers at pages under docs/, and often at a
// section by its heading. A page renamed, a heading reworded, or a pointer at a document that is
// not in the repository (the design notes this project started from) leaves a reader stranded;
// this test finds each one with the file that holds it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docsDir = path.join(root, 'docs');
const TEXT_FILES = /\.(ts|mts|cts|js|mjs|cjs|md|yaml|yml|sh|json)$/;
/** Build output, dependencies and scratch: not written by us, or written from what is checked here. */
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'tmp', 'results', '.bench-out']);

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sourceFiles(full));
    else if (TEXT_FILES.test(entry.name) && entry.name !== 'package-lock.json') found.push(full);
  }
  return found;
}

const pages = new Map<string, string[]>(
  readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => [name, headingsOf(readFileSync(path.join(docsDir, name), 'utf8'))]),
);

function headingsOf(markdown: string): string[] {
  return [...markdown.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => m[1]!.trim());
}

interface Finding {
  file: string;
  line: number;
  text: string;
}

function findAll(pattern: RegExp, check: (m: RegExpMatchArray, file: string) => string | undefined): Finding[] {
  const findings: Finding[] = [];
  for (const file of sourceFiles(root)) {
    if (file === fileURLToPath(import.meta.url)) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(pattern)) {
      const problem = check(m, file);
      if (problem === undefined) continue;
      const line = text.slice(0, m.index).split('\n').length;
      findings.push({ file: path.relative(root, file), line, text: problem });
    }
  }
  return findings;
}

function report(findings: Finding[]): string {
  return findings.map((f) => `${f.file}:${f.line}: ${f.text}`).join('\n');
}

describe('references to docs', () => {
  it('point at pages that exist under docs/', () => {
    const findings = findAll(/\bdocs\/([A-Za-z0-9_-]+\.md)\b/g, (m, file) => {
      // apache/skywalking's own docs (docs/en/...) are cited by their upstream path.
      if (m.input!.slice(Math.max(0, m.index! - 30), m.index).match(/(skywalking|opentelemetry-proto|upstream)[^\n]*$/)) return undefined;
      return pages.has(m[1]!) ? undefined : `docs/${m[1]} does not exist (in ${path.basename(file)})`;
    });
    assert.equal(findings.length, 0, report(findings));
  });

  it('never point at design notes kept outside the repository', () => {
    const findings = findAll(/\b(DESIGN\.md|aesthetics\.md|anchors\.md|shared docs|shared\/docs)\b/g, (m) => `${m[1]} is not in this repository; point at a page under docs/`);
    assert.equal(findings.length, 0, report(findings));
  });

  it('name sections by heading, not by a number that moves when a section is added', () => {
    const findings = findAll(/\b([a-z0-9-]+\.md)`?,? §\s?\d/g, (m) => (pages.has(m[1]!) ? `${m[0]}: name the section by its heading, in quotes` : undefined));
    assert.equal(findings.length, 0, report(findings));
  });

  it('name sections by headings the page has', () => {
    // `docs/translation.md`, "Nested servers in one service" / docs/skywalking-model.md "sw8" /
    // (inside docs/) `admission.md`, "One ledger": the quoted text starts a heading of that page.
    const findings = findAll(/`?(?:docs\/)?([a-z0-9-]+\.md)`?,? "([^"\n]+)"/g, (m, file) => {
      const page = m[1]!;
      const headings = pages.get(page);
      if (headings === undefined) return undefined;
      const inDocs = path.dirname(file) === docsDir;
      if (!inDocs && !m[0].includes('docs/')) return undefined;
      const section = m[2]!;
      return headings.some((h) => h.startsWith(section)) ? undefined : `docs/${page} has no heading "${section}"`;
    });
    assert.equal(findings.length, 0, report(findings));
  });
});
