import { authorizeNetProvider } from './authorize-net.ts';
import { flutterwaveProvider } from './flutterwave.ts';
import { genericHmacProvider } from './generic-hmac.ts';
import { githubProvider } from './github.ts';
import { paystackProvider } from './paystack.ts';
import { shopifyProvider } from './shopify.ts';
import { slackProvider } from './slack.ts';
import { standardWebhooksProvider } from './standard-webhooks.ts';
import { stripeProvider } from './stripe.ts';
import type { ProviderAdapter, ProviderName } from './types.ts';

export * from './types.ts';
export {
  authorizeNetProvider,
  flutterwaveProvider,
  genericHmacProvider,
  githubProvider,
  paystackProvider,
  shopifyProvider,
  slackProvider,
  standardWebhooksProvider,
  stripeProvider,
};

export const PROVIDERS: Readonly<Record<ProviderName, ProviderAdapter>> = {
  stripe: stripeProvider,
  paystack: paystackProvider,
  flutterwave: flutterwaveProvider,
  authorize_net: authorizeNetProvider,
  github: githubProvider,
  shopify: shopifyProvider,
  slack: slackProvider,
  standard_webhooks: standardWebhooksProvider,
  generic_hmac: genericHmacProvider,
};

const MAX_EVENT_TYPE_LENGTH = 255;

/** Characters outside the event-type alphabet become dots; runs of dots collapse; none lead or trail. */
function clean(text: string): string {
  return text
    .replace(/[^A-Za-z0-9_.-]/g, '.')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.+|\.+$/g, '');
}

/**
 * A provider's event type as a Hookrelay event type (`EVENT_TYPE_REGEX`): Shopify's `orders/create`
 * becomes `orders.create`, a call with no type becomes `unknown`, and the source's prefix keeps
 * sources apart (`shop.orders.create`). The result is cut to 255 characters.
 */
export function normalizeEventType(raw: string | null, prefix?: string | null): string {
  const type = clean(raw ?? '') || 'unknown';
  const cleanPrefix = prefix ? clean(prefix) : '';
  const full = cleanPrefix ? `${cleanPrefix}.${type}` : type;
  // A cut can end on a dot, which the alphabet allows but a type should not end with.
  return full.slice(0, MAX_EVENT_TYPE_LENGTH).replace(/\.+$/, '');
}
