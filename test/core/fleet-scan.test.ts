import test from 'ava';
import { likePattern } from '@offloop/core/engine';

test('a schema glob becomes a LIKE pattern: * and ? are wildcards, LIKE’s own are literal', (t) => {
  t.is(likePattern('tenant_*'), 'tenant\\_%');
  t.is(likePattern('t?_*'), 't_\\_%');
  t.is(likePattern('100%'), '100\\%');
  t.is(likePattern('a\\b'), 'a\\\\b');
  t.is(likePattern('exact'), 'exact');
});
