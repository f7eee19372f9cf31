/** Parts of a connection URL written back as a URL: for the driver, or for people to read. */
import type { Parts } from './parse-url.ts';

/**
 * `driver`: the WHATWG form slonik reads, a socket directory as a percent-encoded host.
 * `display`: the same, but a socket directory shown as `?host=/path`, as people write it.
 */
export function formatUrl(parts: Parts, form: 'driver' | 'display'): string {
  const socket = parts.host?.startsWith('/') === true && form === 'display';
  let text = `${parts.scheme}://`;
  if (parts.user !== null || parts.password !== null) {
    const password = parts.password === null ? '' : `:${encodeURIComponent(parts.password)}`;
    text += `${encodeURIComponent(parts.user ?? '')}${password}@`;
  }
  const params = [...parts.params];
  if (socket) {
    params.unshift(
      ['host', parts.host ?? ''],
      ...(parts.port === null ? [] : [['port', parts.port] as [string, string]]),
    );
  } else {
    // An IPv6 address goes to the driver percent-encoded, not in brackets: slonik hands the
    // decoded host name on as it is, and `[::1]` is no host name to connect to.
    const ipv6 = !parts.host?.startsWith('/') && parts.host?.includes(':') === true;
    if (parts.host !== null)
      text += ipv6 && form === 'display' ? `[${parts.host}]` : encodeURIComponent(parts.host);
    if (parts.port !== null) text += `:${parts.port}`;
  }
  text += `/${parts.database === null ? '' : encodeURIComponent(parts.database)}`;
  // Percent-encoded, never `+` for a space: libpq reads `+` as a plus sign, WHATWG as a space.
  const query = params
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key)}=${encodeURIComponent(value).replaceAll('%2F', '/')}`,
    )
    .join('&');
  return query === '' ? text : `${text}?${query}`;
}
