import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index.ts';

describe('HOOKRELAY_ALLOWED_PORTS', () => {
  it('allows any port when unset or empty', () => {
    expect(loadConfig({}).allowedPorts).toBeNull();
    expect(loadConfig({ HOOKRELAY_ALLOWED_PORTS: '' }).allowedPorts).toBeNull();
  });

  it('is parsed into port ranges', () => {
    expect(loadConfig({ HOOKRELAY_ALLOWED_PORTS: '80,443,8000-9000' }).allowedPorts).toEqual([
      { from: 80, to: 80 },
      { from: 443, to: 443 },
      { from: 8000, to: 9000 },
    ]);
  });

  it('refuses a bad list at start with a message naming the variable', () => {
    for (const bad of ['80,https', '0', '9000-8000', '70000']) {
      expect(() => loadConfig({ HOOKRELAY_ALLOWED_PORTS: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ HOOKRELAY_ALLOWED_PORTS: bad })).toThrow(/^Invalid configuration: HOOKRELAY_ALLOWED_PORTS must be/);
    }
  });
});
