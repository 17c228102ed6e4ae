import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BODY_LIMIT_BYTES } from '@lunasentri/api';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../packages/api/src/http/server';

const root = join(__dirname, '..', '..');
const doc = readFileSync(join(root, 'docs', 'api.md'), 'utf8');

function sourceText(dir: string): string {
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .map((path) => (statSync(path).isDirectory() ? sourceText(path) : path.endsWith('.ts') ? readFileSync(path, 'utf8') : ''))
    .join('\n');
}

describe('docs/api.md', () => {
  it('states the header, request and body limits the server uses', () => {
    expect(doc).toContain(`**Headers: ${HEADERS_TIMEOUT_MS / 1000} s.**`);
    expect(doc).toContain(`**Whole request: ${REQUEST_TIMEOUT_MS / 1000} s.**`);
    expect(doc).toContain(`body over ${BODY_LIMIT_BYTES / 1024} KiB`);
  });

  it('lists in its error table only codes the API answers', () => {
    const table = doc.slice(doc.indexOf('| situation | status | code |'), doc.indexOf('Only a real fault answers 500'));
    const source = sourceText(join(root, 'packages', 'api', 'src')) + sourceText(join(root, 'packages', 'shared', 'src', 'notify'));
    const codes = new Set<string>();
    for (const row of table.split('\n').slice(2)) {
      const cells = row.split(' | ');
      for (const match of (cells[2] ?? '').matchAll(/`([a-z_<>]+\.[a-z_]+)`/g)) codes.add(match[1]);
    }
    expect(codes.size).toBeGreaterThan(20);
    for (const code of codes) {
      const [area, reason] = code.split('.');
      // Area-templated codes are built as `${area}.<reason>`; the areas are the route configs'.
      const written = area === '<area>' ? source.includes(`\${area}.${reason}`) : source.includes(`'${code}'`) || source.includes(`\${area}.${reason}`);
      expect({ code, written }).toEqual({ code, written: true });
    }
  });
});
