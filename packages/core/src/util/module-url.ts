/**
 * The URL of a module loaded by path (a worker thread's entry, a spawned script), relative to the
 * module that loads it and with its extension: inside the workspace the TypeScript source runs
 * directly (`.ts`), the published package runs `dist/*.js`.
 *
 * @param path the module's path relative to `base`, without extension (`./worker-entry`)
 * @param base the loading module's `import.meta.url`
 * @example new Worker(moduleUrl('./pool/pool-boot', import.meta.url))
 */
export function moduleUrl(path: string, base: string): URL {
  return new URL(`${path}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
