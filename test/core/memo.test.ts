import test from '../helpers/limited-test.ts';
import { Memo } from '../../packages/core/src/util/memo.ts';

test('a memo makes each value once, forgets the oldest past its bound, and forgets on delete', (t) => {
  const memo = new Memo<string>(2);
  let made = 0;
  const make = (value: string) => () => {
    made += 1;
    return value;
  };
  t.is(memo.get('a', make('A')), 'A');
  t.is(memo.get('a', make('other')), 'A', 'kept');
  t.is(made, 1);
  memo.get('b', make('B'));
  memo.get('c', make('C'));
  t.is(made, 3);
  t.is(memo.get('a', make('A again')), 'A again', 'the oldest was forgotten');
  t.is(memo.get('c', make('other')), 'C', 'the newest kept');
  memo.delete('c');
  t.is(memo.get('c', make('C again')), 'C again');
});
