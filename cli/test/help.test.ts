/**
 * Every command's `--help` ends with an example an operator can copy: walked from the
 * `Commands:` sections of the help itself, so a new command without one fails here.
 */
import { EXIT } from '../src/errors';
import { run } from '../src/program';

async function help(path: readonly string[]): Promise<string> {
  let out = '';
  const code = await run([...path, '--help'], { out: (t) => (out += t), err: () => undefined });
  expect(code).toBe(0);
  return out;
}

/** The commands a help text lists (`Commands:` section), `help` itself left out. */
function commandsOf(text: string): string[] {
  const section = text.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)]
    .map((m) => m[1]!)
    .filter((name) => name !== 'help');
}

async function allCommands(path: readonly string[] = []): Promise<string[][]> {
  const found: string[][] = [];
  for (const name of commandsOf(await help(path))) {
    const sub = [...path, name];
    const children = await allCommands(sub);
    found.push(...(children.length > 0 ? children : [sub]));
  }
  return found;
}

describe('--help', () => {
  it('every command has an example', async () => {
    const commands = await allCommands();
    expect(commands.map((c) => c.join(' '))).toEqual(
      expect.arrayContaining(['rotate', 'status', 'verify', 'doctor', 'redrive', 'ledger list']),
    );
    const without: string[] = [];
    for (const command of commands) {
      const text = await help(command);
      const examples = text.split(/^Examples?:$/m)[1] ?? '';
      if (!new RegExp(`keyrot ${command.join(' ')}\\b`).test(examples)) {
        without.push(command.join(' '));
      }
    }
    expect(without).toEqual([]);
  });
});

describe('exit codes', () => {
  it('--help documents every code of EXIT', async () => {
    const section = (await help([])).split(/^Exit codes:$/m)[1] ?? '';
    const documented = [...section.matchAll(/^ {2}(\d+) {2}/gm)].map((m) => Number(m[1]));
    expect(documented).toEqual(Object.values(EXIT));
  });
});
