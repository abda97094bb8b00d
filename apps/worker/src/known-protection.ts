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

  remember(endpointId: string, protection: ProtectionSettings): void {
    this.settings.delete(endpointId);
    this.settings.set(endpointId, protection);
    if (this.settings.size > this.max) this.settings.delete(this.settings.keys().next().value!);
  }
}
