import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScript, scriptCommand } from './redis-scripts.js';

// A module's directory with its scripts, as `import.meta.url` of a module in it would name it.
const dir = mkdtempSync(join(tmpdir(), 'redis-scripts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = pathToFileURL(join(dir, 'caller.js')).href;
// EXTRA is named in comments only: no use of it.
const SOURCE = '-- Given: WIDTH, SUFFIX, EXTRA\nreturn {WIDTH, SUFFIX, KEYS[1]} -- not EXTRA\n';
writeFileSync(join(dir, 'read-width.lua'), SOURCE);
writeFileSync(join(dir, 'get.lua'), 'return 1\n');

describe('loadScript', () => {
  it('reads the file beside the caller and names the command after it, camel-cased', () => {
    expect(loadScript(base, 'read-width.lua', { WIDTH: 22, SUFFIX: '.api' })).toEqual({
      file: 'read-width.lua',
      name: 'readWidth',
      lua: `local WIDTH, SUFFIX = 22, '.api' ${SOURCE}`,
    });
    expect(loadScript(base, 'get.lua').lua).toBe('return 1\n');
  });

  it("declares the constants on the file's first line, so Redis' line numbers are the file's", () => {
    const { lua } = loadScript(base, 'read-width.lua', { WIDTH: 22, SUFFIX: '.api' });
    expect(lua.split('\n')).toHaveLength(SOURCE.split('\n').length);
    expect(lua.split('\n')[1]).toBe(SOURCE.split('\n')[1]);
  });

  it('refuses a constant the file never names, or one it could not write plainly', () => {
    expect(() => loadScript(base, 'read-width.lua', { WIDTH: 22, SUFFIX: '.api', EXTRA: 1 })).toThrow(
      'read-width.lua never uses the constant EXTRA',
    );
    expect(() => loadScript(base, 'read-width.lua', { WIDTH: 2.5 })).toThrow('not a safe integer');
    expect(() => loadScript(base, 'read-width.lua', { SUFFIX: "'; return 1 --" })).toThrow('printable ASCII');
    expect(() => loadScript(base, 'read-width.lua', { width: 1 })).toThrow('UPPER_SNAKE_CASE');
  });

  it('says what to do when the file is missing (a build that did not copy it)', () => {
    expect(() => loadScript(base, 'missing.lua')).toThrow(/missing\.lua is missing: the build copies/);
    expect(() => loadScript(base, 'Read_Width.lua')).toThrow('kebab-case');
  });
});

describe('scriptCommand', () => {
  // Never connected: defining a command sends nothing.
  const client = () => new Redis({ lazyConnect: true });

  it('defines a script once per connection, whoever asks', () => {
    const redis = client();
    const script = loadScript(base, 'read-width.lua', { WIDTH: 22, SUFFIX: '.api' });
    scriptCommand(redis, script);
    scriptCommand(redis, script);
    expect('readWidth' in redis).toBe(true);
  });

  it('refuses a second script under one name, and a name the client already has', () => {
    const redis = client();
    scriptCommand(redis, loadScript(base, 'read-width.lua', { WIDTH: 22, SUFFIX: '.api' }));
    expect(() => scriptCommand(redis, loadScript(base, 'read-width.lua', { WIDTH: 40, SUFFIX: '.api' }))).toThrow(
      'another script named readWidth',
    );
    expect(() => scriptCommand(redis, loadScript(base, 'get.lua'))).toThrow('the client has a get already');
  });
});
