import { csvField, render, stableJson, toCsv, toTable, wrap } from '../src/output';
import { days, parseCount, parseDate, parsePositive } from '../src/time';
import { UsageError } from '../src/errors';

describe('output formats', () => {
  const columns = [
    { header: 'target', value: (r: { t: string; n: number | null }) => r.t },
    { header: 'count', value: (r: { t: string; n: number | null }) => r.n },
  ];
  const rows = [
    { t: 'shop', n: 2 },
    { t: 'a,"b"', n: null },
  ];

  it('quotes CSV fields only when they hold a comma, a quote or a line break', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(null)).toBe('');
    expect(csvField(false)).toBe('false');
    expect(toCsv(['a', 'b'], [[1, 'x,y']])).toBe('a,b\n1,"x,y"\n');
  });

  it('renders the same rows as CSV, JSON (objects by header) and a table', () => {
    expect(render('csv', columns, rows)).toBe('target,count\nshop,2\n"a,""b""",\n');
    expect(JSON.parse(render('json', columns, rows))).toEqual([
      { target: 'shop', count: 2 },
      { target: 'a,"b"', count: null },
    ]);
    const table = render('table', columns, rows);
    expect(table).toContain('target');
    expect(table).toMatch(/│ a,"b"\s+│ -\s+│/);
  });

  it('wraps long table cells at spaces, and cuts a long word instead of dropping characters', () => {
    expect(wrap('one two three', 7)).toBe('one two\nthree');
    expect(wrap('{"a":"0123456789"}', 8)).toBe('{"a":"01\n23456789\n"}');
    expect(wrap('', 5)).toBe('');
    const table = toTable(['what'], [['x'.repeat(100)]]);
    expect(table.replace(/[^x]/g, '')).toHaveLength(100);
  });

  it("renders a command's own JSON document when it has one", () => {
    expect(JSON.parse(render('json', columns, rows, { whole: true }))).toEqual({ whole: true });
  });

  it('prints objects with a fixed key order: the given fields first, then the rest sorted', () => {
    expect(
      stableJson({ z: 1, b: { y: 1, x: 2 }, a: [{ d: 1, c: 2 }], step: 'S' }, ['step', 'z']),
    ).toBe('{"step":"S","z":1,"a":[{"c":2,"d":1}],"b":{"x":2,"y":1}}');
  });
});

describe('key ages in days', () => {
  it('round up, so a key past the policy never shows as exactly the policy', () => {
    expect(days(31 * 86_400_000)).toBe('31.00');
    expect(days(31 * 86_400_000 + 60_000)).toBe('31.01');
    expect(days(0)).toBe('0.00');
    expect(days(1)).toBe('0.01');
    expect(days(0.29 * 86_400_000)).toBe('0.29');
  });
});

describe('dates and numbers from options', () => {
  it('reads a day as midnight UTC, and an ISO time with its offset', () => {
    expect(parseDate('--since', '2026-11-01').toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(parseDate('--since', '2026-11-01T10:00:00+02:00').toISOString()).toBe(
      '2026-11-01T08:00:00.000Z',
    );
    expect(parseDate('--since', '2024-02-29').toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });

  it.each([
    '2026-02-30',
    '2025-02-29',
    '2026-13-01',
    'yesterday',
    '1/11/2026',
    '2026-11-01T25:00:00Z',
    '',
  ])('refuses "%s", naming the option', (text) => {
    const error = (() => {
      try {
        parseDate('--since', text);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).field).toBe('--since');
    expect((error as UsageError).message).toMatch(/^--since: "/);
  });

  it('takes positive numbers and whole counts within bounds', () => {
    expect(parsePositive('--poll', '0.5', 10)).toBe(0.5);
    expect(() => parsePositive('--poll', '0', 10)).toThrow(
      '--poll: "0" must be a number greater than 0',
    );
    expect(() => parsePositive('--poll', 'soon', 10)).toThrow(UsageError);
    expect(() => parsePositive('--poll', '11', 10)).toThrow('at most 10');
    expect(parseCount('--limit', '20', 1000)).toBe(20);
    expect(() => parseCount('--limit', '2.5', 1000)).toThrow(
      '--limit: "2.5" must be a whole number',
    );
  });
});
