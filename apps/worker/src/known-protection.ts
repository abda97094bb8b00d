import { isDeepStrictEqual } from 'node:util';
import type { ProtectionSettings } from '@hookrelay/domain';

/**
 * The protection settings each endpoint's last read found, for the endpoints a process has seen
 * lately (the least recently read are forgotten past a bound). A guess: a read always has the
 * last word.
 */
export class KnownProtection {
  private readonly settings = new Map<string, ProtectionSettings>();
  constructor(private readonly max = 10_000) {}

  get(endpointId: string): ProtectionSettings | undefined {
    return this.settings.get(endpointId);
  }

  /**
   * Remembers what a read found, and answers the object to use for it: the one remembered when
   * equal, so that an admission asked with the remembered settings is checked by identity.
   */
  remember(endpointId: string, protection: ProtectionSettings): ProtectionSettings {
    const known = this.settings.get(endpointId);
    const kept = known !== undefined && isDeepStrictEqual(known, protection) ? known : protection;
    this.settings.delete(endpointId);
    this.settings.set(endpointId, kept);
    if (this.settings.size > this.max) this.settings.delete(this.settings.keys().next().value!);
    return kept;
  }
}
