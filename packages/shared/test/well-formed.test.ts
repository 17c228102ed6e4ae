import { findIllFormedString, loneSurrogateAt } from '@lunasentri/shared';

describe('well-formed text', () => {
  test.each([
    ['plain ASCII', 'web-1', -1],
    ['an empty string', '', -1],
    ['a surrogate pair (an emoji)', 'rocket \ud83d\ude80', -1],
    ['a lone high surrogate', 'x\ud800y', 1],
    ['a lone low surrogate', '\udc00', 0],
    ['a high surrogate at the end', 'ends in \ud83d', 8],
    ['two high surrogates in a row', '\ud83d\ud83d\ude80', 0],
    ['a low surrogate before its high one', 'a\ude80\ud83d', 1],
    ['U+FFFD, what invalid UTF-8 becomes', 'x\ufffdy', -1],
  ])('loneSurrogateAt: %s', (_name, text, expected) => {
    expect(loneSurrogateAt(text)).toBe(expected);
  });

  test.each([
    ['a well-formed object', { name: 'web', tags: ['a', 'b'], n: 1, ok: null }, undefined],
    ['a top-level string', '\ud800', { path: [], inKey: false }],
    ['a nested value', { system_info: { hostname: 'x\ud800' } }, { path: ['system_info', 'hostname'], inKey: false }],
    ['an array element', { tags: ['ok', '\udfff'] }, { path: ['tags', 1], inKey: false }],
    ['an object key', { outer: { ['k\ud800']: 1 } }, { path: ['outer'], inKey: true }],
    ['the first in document order', { a: 'fine', b: '\ud800', c: '\ud800' }, { path: ['b'], inKey: false }],
  ])('findIllFormedString: %s', (_name, value, expected) => {
    expect(findIllFormedString(value)).toEqual(expected);
  });

  test('findIllFormedString walks a deeply nested value without overflowing the stack', () => {
    const depth = 100_000;
    const value = JSON.parse(`${'['.repeat(depth)}"\\ud800"${']'.repeat(depth)}`);
    expect(findIllFormedString(value)?.path).toHaveLength(depth);
  });
});
