/** Where the modules that run in a worker thread are: the host loads them by URL, never imports them. */
import { moduleUrl } from '@offloop/core';

/** The URL of a module in `thread/` (the source or its built form, like this module). */
export function threadEntry(name: 'worker-boot' | 'cancel-entry'): string {
  return moduleUrl(`../thread/${name}`, import.meta.url).href;
}
