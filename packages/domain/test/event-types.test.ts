import { describe, expect, it } from 'vitest';
import {
  ALL_EVENT_TYPES,
  EVENT_FILTER_PATTERN_SOURCE,
  EVENT_TYPE_PATTERN_SOURCE,
  EVENT_TYPE_REGEX,
  matchesEventType,
  normalizeEventFilters,
} from '../src/event-types.ts';

describe('matchesEventType', () => {
  it('matches exact types only', () => {
    expect(matchesEventType(['order.created'], 'order.created')).toBe(true);
    expect(matchesEventType(['order.created'], 'order.updated')).toBe(false);
    expect(matchesEventType(['order.created'], 'order.created.v2')).toBe(false);
    expect(matchesEventType(['order.created'], 'order')).toBe(false);
    expect(matchesEventType(['order.created'], 'Order.Created')).toBe(false);
  });

  it('matches prefix.* at any depth', () => {
    expect(matchesEventType(['order.*'], 'order.created')).toBe(true);
    expect(matchesEventType(['order.*'], 'order.item.added')).toBe(true);
    expect(matchesEventType(['order.*'], 'order.item.added.v2')).toBe(true);
    expect(matchesEventType(['order.item.*'], 'order.item.added')).toBe(true);
    expect(matchesEventType(['order.item.*'], 'order.created')).toBe(false);
  });

  it('does not match the bare prefix without a dot', () => {
    expect(matchesEventType(['order.*'], 'order')).toBe(false);
  });

  it('does not match other types sharing the prefix characters', () => {
    expect(matchesEventType(['order.*'], 'orderx.created')).toBe(false);
    expect(matchesEventType(['order.*'], 'orders.created')).toBe(false);
    expect(matchesEventType(['order.*'], 'order_created')).toBe(false);
    expect(matchesEventType(['order.*'], 'preorder.created')).toBe(false);
  });

  it('treats dots in the prefix literally', () => {
    expect(matchesEventType(['a.b.*'], 'aXb.c')).toBe(false);
    expect(matchesEventType(['a.b.*'], 'a.bc.d')).toBe(false);
  });

  it('matches everything with *', () => {
    expect(matchesEventType([ALL_EVENT_TYPES], 'order.created')).toBe(true);
    expect(matchesEventType(['*'], 'x')).toBe(true);
    expect(matchesEventType(['invoice.paid', '*'], 'order.created')).toBe(true);
  });

  it('matches everything with an empty list', () => {
    expect(matchesEventType([], 'order.created')).toBe(true);
    expect(matchesEventType([], 'anything')).toBe(true);
  });

  it('matches when any filter in the list matches', () => {
    const filters = ['invoice.paid', 'order.*'];
    expect(matchesEventType(filters, 'invoice.paid')).toBe(true);
    expect(matchesEventType(filters, 'order.shipped')).toBe(true);
    expect(matchesEventType(filters, 'invoice.created')).toBe(false);
    expect(matchesEventType(filters, 'customer.created')).toBe(false);
  });
});

describe('normalizeEventFilters', () => {
  it('turns a missing or empty list into [*]', () => {
    expect(normalizeEventFilters(undefined)).toEqual(['*']);
    expect(normalizeEventFilters([])).toEqual(['*']);
  });

  it('collapses any list containing * to [*]', () => {
    expect(normalizeEventFilters(['order.created', '*', 'invoice.*'])).toEqual(['*']);
  });

  it('sorts and de-duplicates', () => {
    expect(normalizeEventFilters(['order.created', 'invoice.*', 'order.created', 'customer.deleted'])).toEqual([
      'customer.deleted',
      'invoice.*',
      'order.created',
    ]);
  });

  it('does not mutate its input', () => {
    const input = ['b', 'a', 'b'];
    normalizeEventFilters(input);
    expect(input).toEqual(['b', 'a', 'b']);
  });

  it('keeps the selection the same', () => {
    const filters = ['order.*', 'invoice.paid', 'order.*'];
    for (const type of ['order.created', 'invoice.paid', 'invoice.created', 'order']) {
      expect(matchesEventType(normalizeEventFilters(filters), type)).toBe(matchesEventType(filters, type));
    }
  });
});

describe('patterns', () => {
  const filterPattern = new RegExp(EVENT_FILTER_PATTERN_SOURCE);

  it('event type regex and source agree', () => {
    expect(EVENT_TYPE_REGEX.source).toBe(EVENT_TYPE_PATTERN_SOURCE);
    expect(EVENT_TYPE_REGEX.test('order.created')).toBe(true);
    expect(EVENT_TYPE_REGEX.test('order.*')).toBe(false);
    expect(EVENT_TYPE_REGEX.test('')).toBe(false);
    expect(EVENT_TYPE_REGEX.test('a'.repeat(256))).toBe(false);
  });

  it('filters allow *, exact types and prefix.*', () => {
    for (const ok of ['*', 'order.created', 'order.*', 'a.b.c.*']) expect(filterPattern.test(ok)).toBe(true);
    for (const bad of ['', '**', 'order*', 'order.*.x', '*.created', 'or der']) expect(filterPattern.test(bad)).toBe(false);
  });
});
